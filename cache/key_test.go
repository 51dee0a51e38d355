package cache

import "testing"

// IDWith with the key's own Prefix is ID; the Prefix changes with each
// session-part field and with nothing of the request.
func TestPrefix(t *testing.T) {
	k := Key{Conn: "c", ConfigHash: "h", User: "u", Shape: "Q", Statement: "SELECT 1",
		Settings: Settings{TimeZone: "UTC", Other: map[string]string{"role": "r"}}}
	if k.IDWith(k.Prefix()) != k.ID() {
		t.Fatal("IDWith(Prefix()) differs from ID()")
	}
	p := k.Prefix()
	req := k
	req.Statement, req.Params = "SELECT 2", [][]byte{[]byte("x")}
	if req.Prefix() != p {
		t.Fatal("the request changed the prefix")
	}
	if req.IDWith(p) == k.IDWith(p) {
		t.Fatal("two requests share an ID")
	}
	for _, change := range []func(*Key){
		func(k *Key) { k.Conn = "d" },
		func(k *Key) { k.ConfigHash = "i" },
		func(k *Key) { k.User = "v" },
		func(k *Key) { k.Settings.TimeZone = "Asia/Tokyo" },
		func(k *Key) { k.Settings.Other = map[string]string{"role": "s"} },
	} {
		o := k
		change(&o)
		if o.Prefix() == p || o.ID() == k.ID() {
			t.Fatalf("a session field did not change the prefix: %+v", o)
		}
	}
}
