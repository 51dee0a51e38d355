-- The pets example of Streamlit's "Connecting to data" guide, in SQL.
-- psql -h localhost -p 6432 -d pets_db -f examples/pets.sql
CREATE TABLE IF NOT EXISTS pet_owners (person TEXT, pet TEXT);
DELETE FROM pet_owners;
BEGIN;
INSERT INTO pet_owners (person, pet) VALUES ('jerry', 'fish');
INSERT INTO pet_owners (person, pet) VALUES ('barbara', 'cat');
INSERT INTO pet_owners (person, pet) VALUES ('alex', 'puppy');
COMMIT;
SELECT * FROM pet_owners;
