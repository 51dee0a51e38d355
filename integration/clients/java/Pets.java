// Streamlit's pets example and a few protocol checks through pgjdbc.
//
// Run (Java 11+ runs a single source file directly):
//   java -cp /usr/share/java/postgresql.jar Pets.java [URL | HOST PORT DBNAME]
// URL may be postgresql://user@host:port/db or jdbc:postgresql://host:port/db?user=...
// Default: $XCONNPROXY_URL, else postgresql://postgres@127.0.0.1:6544/pets_db.
// Set PGJDBC_LOG=1 to get pgjdbc's own protocol trace (java.util.logging FINEST) on stderr.
//
// Prints one line per check and "N passed, M failed"; exits 1 on any failure.

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.sql.*;
import java.util.*;
import java.util.logging.*;

public class Pets {
    static String jdbcUrl;
    static Properties props = new Properties();
    static int passed = 0, failed = 0;

    interface Check { void run() throws Exception; }

    static void check(String name, Check c) {
        try {
            c.run();
            passed++;
            System.out.println("ok   " + name);
        } catch (Throwable t) {
            failed++;
            String state = (t instanceof SQLException) ? " [SQLSTATE " + ((SQLException) t).getSQLState() + "]" : "";
            System.out.println("FAIL " + name + ": " + t + state);
            if (System.getenv("PETS_TRACE") != null) t.printStackTrace(System.out);
        }
    }

    static void expect(boolean cond, String msg) {
        if (!cond) throw new AssertionError(msg);
    }

    static Connection connect() throws SQLException {
        return DriverManager.getConnection(jdbcUrl, props);
    }

    static void parseArgs(String[] args) throws Exception {
        String url;
        if (args.length >= 3) {
            String user = System.getenv().getOrDefault("PGUSER", "postgres");
            url = "postgresql://" + user + "@" + args[0] + ":" + args[1] + "/" + args[2];
        } else if (args.length >= 1) {
            url = args[0];
        } else {
            url = System.getenv().getOrDefault("XCONNPROXY_URL", "postgresql://postgres@127.0.0.1:6544/pets_db");
        }
        if (url.startsWith("jdbc:")) {
            jdbcUrl = url;
        } else {
            URI u = new URI(url.replaceFirst("^postgres(ql)?://", "postgresql://"));
            int port = u.getPort() > 0 ? u.getPort() : 5432;
            jdbcUrl = "jdbc:postgresql://" + u.getHost() + ":" + port + u.getPath();
            String ui = u.getUserInfo();
            if (ui != null) {
                String[] p = ui.split(":", 2);
                props.setProperty("user", p[0]);
                if (p.length > 1) props.setProperty("password", p[1]);
            }
        }
        if (!props.containsKey("user") && !jdbcUrl.contains("user=")) props.setProperty("user", "postgres");
        props.setProperty("sslmode", "disable");
    }

    static final String[][] PETS = {{"jerry", "fish"}, {"barbara", "cat"}, {"alex", "puppy"}};
    static final String[][] PETS_SORTED = {{"alex", "puppy"}, {"barbara", "cat"}, {"jerry", "fish"}};
    static final String TRICKY = "O'Brien said \"hi\" \\ naïve café, 日本語, emoji 🐍";
    static final byte[] BLOB = {0, 1, 2, '\'', '\\', (byte) 0xfe, (byte) 0xff};

    static List<String> petRows(Connection c, String table) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT person, pet FROM " + table + " ORDER BY person")) {
            while (rs.next()) out.add(rs.getString(1) + "/" + rs.getString(2));
        }
        return out;
    }

    static List<String> sortedPets() {
        List<String> out = new ArrayList<>();
        for (String[] p : PETS_SORTED) out.add(p[0] + "/" + p[1]);
        return out;
    }

    public static void main(String[] args) throws Exception {
        parseArgs(args);
        if (System.getenv("PGJDBC_LOG") != null) {
            Logger l = Logger.getLogger("org.postgresql");
            l.setLevel(Level.FINEST);
            ConsoleHandler h = new ConsoleHandler();
            h.setLevel(Level.FINEST);
            l.addHandler(h);
        }

        check("metadata_and_version", () -> {
            try (Connection c = connect()) {
                DatabaseMetaData md = c.getMetaData();
                String name = md.getDatabaseProductName();
                String ver = md.getDatabaseProductVersion();
                expect("PostgreSQL".equals(name), "product name " + name);
                expect(ver.matches("^\\d+\\.\\d+.*"), "product version " + ver);
                expect(md.getDatabaseMajorVersion() >= 15, "major version " + md.getDatabaseMajorVersion());
                try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT version()")) {
                    expect(rs.next() && rs.getString(1).startsWith("PostgreSQL "), "version()");
                }
                try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SHOW server_version")) {
                    expect(rs.next() && rs.getString(1).equals(ver),
                           "SHOW server_version vs getDatabaseProductVersion " + ver);
                }
            }
        });

        check("pets_transaction", () -> {
            try (Connection c = connect()) {
                try (Statement st = c.createStatement()) {
                    st.execute("DROP TABLE IF EXISTS pet_owners");
                    st.execute("CREATE TABLE pet_owners (person TEXT, pet TEXT)");
                }
                c.setAutoCommit(false);
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO pet_owners (person, pet) VALUES (?, ?)")) {
                    for (String[] p : PETS) {
                        ps.setString(1, p[0]);
                        ps.setString(2, p[1]);
                        expect(ps.executeUpdate() == 1, "update count");
                    }
                }
                c.commit();
                List<String> got = petRows(c, "pet_owners");
                expect(got.equals(sortedPets()), "rows " + got);
                c.commit();
            }
        });

        check("pets_batch", () -> {
            try (Connection c = connect()) {
                try (Statement st = c.createStatement()) {
                    st.execute("DROP TABLE IF EXISTS pet_owners_batch");
                    st.execute("CREATE TABLE pet_owners_batch (person TEXT, pet TEXT)");
                }
                c.setAutoCommit(false);
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO pet_owners_batch (person, pet) VALUES (?, ?)")) {
                    for (String[] p : PETS) {
                        ps.setString(1, p[0]);
                        ps.setString(2, p[1]);
                        ps.addBatch();
                    }
                    int[] counts = ps.executeBatch();
                    expect(counts.length == 3, "batch counts " + Arrays.toString(counts));
                }
                c.commit();
                List<String> got = petRows(c, "pet_owners_batch");
                expect(got.equals(sortedPets()), "rows " + got);
                c.commit();
            }
        });

        check("typed_roundtrip", () -> {
            try (Connection c = connect()) {
                try (Statement st = c.createStatement()) {
                    st.execute("DROP TABLE IF EXISTS typed_rt");
                    st.execute("CREATE TABLE typed_rt (id INTEGER, big BIGINT, r DOUBLE PRECISION,"
                               + " t TEXT, b BYTEA, flag BOOLEAN, n TEXT)");
                }
                Object[][] rows = {
                    {1, (1L << 40) + 7, 3.25, TRICKY, BLOB, true},
                    {2, -5L, -0.1, "", new byte[] {0}, false},
                };
                try (PreparedStatement ps = c.prepareStatement(
                        "INSERT INTO typed_rt (id, big, r, t, b, flag, n) VALUES (?, ?, ?, ?, ?, ?, ?)")) {
                    for (Object[] r : rows) {
                        ps.setInt(1, (Integer) r[0]);
                        ps.setLong(2, (Long) r[1]);
                        ps.setDouble(3, (Double) r[2]);
                        ps.setString(4, (String) r[3]);
                        ps.setBytes(5, (byte[]) r[4]);
                        ps.setBoolean(6, (Boolean) r[5]);
                        ps.setNull(7, Types.VARCHAR);
                        ps.executeUpdate();
                    }
                }
                // Read 7 times through one PreparedStatement: after prepareThreshold (5)
                // pgjdbc uses a named statement and asks for binary results.
                try (PreparedStatement ps = c.prepareStatement(
                        "SELECT id, big, r, t, b, flag, n FROM typed_rt WHERE id = ?")) {
                    for (int iter = 0; iter < 7; iter++) {
                        for (Object[] r : rows) {
                            ps.setInt(1, (Integer) r[0]);
                            try (ResultSet rs = ps.executeQuery()) {
                                String at = "iteration " + iter + " id " + r[0] + ": ";
                                expect(rs.next(), at + "no row");
                                expect(rs.getInt(1) == (Integer) r[0], at + "id " + rs.getInt(1));
                                expect(rs.getLong(2) == (Long) r[1], at + "big " + rs.getLong(2));
                                expect(rs.getDouble(3) == (Double) r[2], at + "r " + rs.getDouble(3));
                                expect(r[3].equals(rs.getString(4)), at + "t " + rs.getString(4));
                                byte[] b = rs.getBytes(5);
                                expect(b != null && Arrays.equals(b, (byte[]) r[4]),
                                       at + "b " + (b == null ? "NULL" : Arrays.toString(b)));
                                expect(rs.getBoolean(6) == (Boolean) r[5], at + "flag " + rs.getBoolean(6));
                                Object flag = rs.getObject(6);
                                expect(flag instanceof Boolean, at + "getObject(flag) is " + (flag == null ? "null" : flag.getClass()));
                                expect(rs.getString(7) == null && rs.wasNull(), at + "n not NULL");
                                expect(!rs.next(), at + "extra row");
                            }
                        }
                    }
                }
                try (PreparedStatement ps = c.prepareStatement("SELECT id FROM typed_rt WHERE t = ? AND flag = ? AND b = ?")) {
                    ps.setString(1, TRICKY);
                    ps.setBoolean(2, true);
                    ps.setBytes(3, BLOB);
                    try (ResultSet rs = ps.executeQuery()) {
                        expect(rs.next() && rs.getInt(1) == 1 && !rs.next(), "WHERE with string/bool/bytes params");
                    }
                }
            }
        });

        check("date_timestamp_roundtrip", () -> {
            java.sql.Date d = java.sql.Date.valueOf("2024-05-01");
            Timestamp ts = Timestamp.valueOf("2024-05-01 12:30:15.123456");
            try (Connection c = connect()) {
                try (Statement st = c.createStatement()) {
                    st.execute("DROP TABLE IF EXISTS dt_rt");
                    st.execute("CREATE TABLE dt_rt (id INTEGER, d DATE, ts TIMESTAMP)");
                }
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO dt_rt (id, d, ts) VALUES (?, ?, ?)")) {
                    ps.setInt(1, 1);
                    ps.setDate(2, d);
                    ps.setTimestamp(3, ts);
                    ps.executeUpdate();
                }
                try (PreparedStatement ps = c.prepareStatement("SELECT d, ts FROM dt_rt WHERE id = ?")) {
                    for (int i = 0; i < 6; i++) {  // past prepareThreshold: binary date/timestamp results
                        ps.setInt(1, 1);
                        try (ResultSet rs = ps.executeQuery()) {
                            expect(rs.next(), "no row");
                            expect(d.equals(rs.getDate(1)), "iteration " + i + ": d " + rs.getDate(1));
                            expect(ts.equals(rs.getTimestamp(2)), "iteration " + i + ": ts " + rs.getTimestamp(2));
                        }
                    }
                }
                try (PreparedStatement ps = c.prepareStatement("SELECT id FROM dt_rt WHERE d = ? AND ts = ?")) {
                    ps.setDate(1, d);
                    ps.setTimestamp(2, ts);
                    try (ResultSet rs = ps.executeQuery()) {
                        expect(rs.next() && rs.getInt(1) == 1, "WHERE d = ? AND ts = ?");
                    }
                }
            }
        });

        check("empty_bytea_roundtrip", () -> {
            try (Connection c = connect()) {
                try (Statement st = c.createStatement()) {
                    st.execute("DROP TABLE IF EXISTS empty_bytea");
                    st.execute("CREATE TABLE empty_bytea (id INTEGER, b BYTEA)");
                }
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO empty_bytea (id, b) VALUES (?, ?)")) {
                    ps.setInt(1, 1);
                    ps.setBytes(2, new byte[0]);  // sent as a zero-length binary bytea parameter
                    ps.executeUpdate();
                }
                try (Statement st = c.createStatement();
                     ResultSet rs = st.executeQuery("SELECT b FROM empty_bytea WHERE id = 1")) {
                    expect(rs.next(), "no row");
                    byte[] b = rs.getBytes(1);
                    expect(b != null && b.length == 0, "empty bytea came back as " + (b == null ? "NULL" : Arrays.toString(b)));
                }
            }
        });

        check("error_in_transaction_then_rollback", () -> {
            try (Connection c = connect()) {
                c.setAutoCommit(false);
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO pet_owners (person, pet) VALUES (?, ?)")) {
                    ps.setString(1, "zed");
                    ps.setString(2, "ghost");
                    ps.executeUpdate();
                }
                try (Statement st = c.createStatement()) {
                    try {
                        st.executeQuery("SELECT * FROM no_such_table_xcp");
                        throw new AssertionError("query on a missing table succeeded");
                    } catch (SQLException e) {
                        expect("42P01".equals(e.getSQLState()), "missing table SQLSTATE " + e.getSQLState() + " " + e.getMessage());
                    }
                    try {
                        st.executeQuery("SELECT 1");
                        throw new AssertionError("statement in failed transaction succeeded");
                    } catch (SQLException e) {
                        expect("25P02".equals(e.getSQLState()), "failed-transaction SQLSTATE " + e.getSQLState());
                    }
                }
                c.rollback();
                try (PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM pet_owners WHERE person = ?")) {
                    ps.setString(1, "zed");
                    try (ResultSet rs = ps.executeQuery()) {
                        expect(rs.next() && rs.getLong(1) == 0, "rolled-back row is visible");
                    }
                }
                expect(petRows(c, "pet_owners").equals(sortedPets()), "rows after rollback");
                c.commit();
            }
        });

        check("savepoint", () -> {
            try (Connection c = connect()) {
                c.setAutoCommit(false);
                try (Statement st = c.createStatement()) {
                    st.executeUpdate("INSERT INTO pet_owners (person, pet) VALUES ('sp_keep', 'dog')");
                    Savepoint sp = c.setSavepoint();
                    st.executeUpdate("INSERT INTO pet_owners (person, pet) VALUES ('sp_drop', 'cat')");
                    try {
                        st.executeQuery("SELECT * FROM no_such_table_xcp");
                        throw new AssertionError("query on a missing table succeeded");
                    } catch (SQLException e) {
                        expect("42P01".equals(e.getSQLState()), "SQLSTATE " + e.getSQLState());
                    }
                    c.rollback(sp);
                    c.commit();
                    List<String> got = new ArrayList<>();
                    try (ResultSet rs = st.executeQuery("SELECT person FROM pet_owners WHERE person LIKE 'sp_%'")) {
                        while (rs.next()) got.add(rs.getString(1));
                    }
                    expect(got.equals(List.of("sp_keep")), "rows " + got);
                    st.executeUpdate("DELETE FROM pet_owners WHERE person LIKE 'sp_%'");
                    c.commit();
                }
            }
        });

        check("concurrent_read_transactions", () -> {
            // With autoCommit off pgjdbc sends BEGIN before the first statement,
            // even a SELECT. Two such readers must not block each other.
            try (Connection a = connect(); Connection b = connect()) {
                a.setAutoCommit(false);
                b.setAutoCommit(false);
                try (Statement sa = a.createStatement(); Statement sb = b.createStatement()) {
                    try (ResultSet rs = sa.executeQuery("SELECT count(*) FROM pet_owners")) {
                        expect(rs.next() && rs.getLong(1) == 3, "a count");
                    }
                    try (ResultSet rs = sb.executeQuery("SELECT count(*) FROM pet_owners")) {  // a still open
                        expect(rs.next() && rs.getLong(1) == 3, "b count");
                    }
                }
                a.rollback();
                b.rollback();
            }
        });

        check("unique_violation", () -> {
            try (Connection c = connect()) {
                try (Statement st = c.createStatement()) {
                    st.execute("DROP TABLE IF EXISTS uniq_xcp");
                    st.execute("CREATE TABLE uniq_xcp (id INTEGER PRIMARY KEY, name TEXT UNIQUE)");
                }
                c.setAutoCommit(false);
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO uniq_xcp (id, name) VALUES (?, ?)")) {
                    ps.setInt(1, 1);
                    ps.setString(2, "a");
                    ps.executeUpdate();
                    c.commit();
                    ps.setInt(1, 1);
                    ps.setString(2, "b");
                    try {
                        ps.executeUpdate();
                        throw new AssertionError("duplicate key accepted");
                    } catch (SQLException e) {
                        expect("23505".equals(e.getSQLState()), "SQLSTATE " + e.getSQLState() + " " + e.getMessage());
                    }
                    c.rollback();
                }
                try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT count(*) FROM uniq_xcp")) {
                    expect(rs.next() && rs.getLong(1) == 1, "count");
                }
                c.commit();
            }
        });

        check("prepared_statement_over_threshold", () -> {
            // pgjdbc's prepareThreshold is 5: from the 5th execution on it
            // uses a server-side named statement (S_n) and binary transfer.
            try (Connection c = connect()) {
                c.setAutoCommit(false);
                try (PreparedStatement ins = c.prepareStatement("INSERT INTO pet_owners (person, pet) VALUES (?, ?)");
                     PreparedStatement sel = c.prepareStatement("SELECT pet FROM pet_owners WHERE person = ?")) {
                    for (int i = 0; i < 8; i++) {
                        ins.setString(1, "thr" + i);
                        ins.setString(2, "pet" + i);
                        expect(ins.executeUpdate() == 1, "insert " + i);
                        sel.setString(1, "thr" + i);
                        try (ResultSet rs = sel.executeQuery()) {
                            expect(rs.next() && ("pet" + i).equals(rs.getString(1)) && !rs.next(), "select " + i);
                        }
                    }
                }
                c.rollback();
                // Named statements survive ROLLBACK and are reused afterwards.
                try (PreparedStatement sel = c.prepareStatement("SELECT pet FROM pet_owners WHERE person = ?")) {
                    for (int i = 0; i < 7; i++) {
                        String[] p = PETS_SORTED[i % 3];
                        sel.setString(1, p[0]);
                        try (ResultSet rs = sel.executeQuery()) {
                            expect(rs.next() && p[1].equals(rs.getString(1)) && !rs.next(), "after rollback " + i);
                        }
                    }
                }
                c.commit();
            }
        });

        System.out.println(passed + " passed, " + failed + " failed");
        System.exit(failed == 0 ? 0 : 1);
    }
}
