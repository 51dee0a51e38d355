package mysql

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDriverConfig(t *testing.T) {
	cfg := Config{Host: "db.example.com", Port: 3307, User: "me", Password: "pw", Database: "app"}
	dc, err := cfg.driverConfig()
	if err != nil {
		t.Fatal(err)
	}
	if dc.Net != "tcp" || dc.Addr != "db.example.com:3307" || dc.User != "me" || dc.Passwd != "pw" || dc.DBName != "app" {
		t.Errorf("address and login: %+v", dc)
	}
	if !dc.ClientFoundRows || dc.ParseTime || dc.InterpolateParams || dc.MultiStatements {
		t.Errorf("flags: clientFoundRows=%v parseTime=%v interpolateParams=%v multiStatements=%v",
			dc.ClientFoundRows, dc.ParseTime, dc.InterpolateParams, dc.MultiStatements)
	}
	if dc.Timeout != DefaultConnectTimeout {
		t.Errorf("connect timeout %v, want the default %v", dc.Timeout, DefaultConnectTimeout)
	}
	if dc.TLS == nil || !dc.TLS.InsecureSkipVerify || !dc.AllowFallbackToPlaintext {
		t.Errorf("default TLS is not 'preferred': %+v fallback=%v", dc.TLS, dc.AllowFallbackToPlaintext)
	}

	sock := Config{Socket: "/run/mysqld/mysqld.sock", Host: "ignored"}
	dc, err = sock.driverConfig()
	if err != nil {
		t.Fatal(err)
	}
	if dc.Net != "unix" || dc.Addr != "/run/mysqld/mysqld.sock" || dc.TLS != nil {
		t.Errorf("socket: net=%s addr=%s tls=%v", dc.Net, dc.Addr, dc.TLS)
	}
	for _, tt := range []struct {
		cfg  Config
		want bool
	}{{Config{}, false}, {Config{TLS: TLSConfig{Mode: TLSPreferred}}, false}, {Config{TLS: TLSConfig{Mode: TLSRequired}}, true},
		{Config{TLS: TLSConfig{Mode: TLSVerifyIdentity}}, true}, {Config{Socket: "/s"}, true}} {
		dc, err := tt.cfg.driverConfig()
		if err != nil {
			t.Fatal(err)
		}
		if dc.AllowCleartextPasswords != tt.want {
			t.Errorf("%+v: clear-text passwords allowed = %v, want %v (only over required TLS or a socket)", tt.cfg, dc.AllowCleartextPasswords, tt.want)
		}
	}
	if (&Config{}).Addr() != "127.0.0.1:3306" {
		t.Errorf("default address %s", (&Config{}).Addr())
	}
}

func TestSessionSetup(t *testing.T) {
	got := strings.Join((&Config{}).sessionSetup(true), "; ")
	for _, want := range []string{"NO_BACKSLASH_ESCAPES", "@@SESSION.sql_mode", "time_zone = '+00:00'", "tx_isolation = 'READ-COMMITTED'"} {
		if !strings.Contains(got, want) {
			t.Errorf("MariaDB setup %q lacks %q", got, want)
		}
	}
	got = strings.Join((&Config{SQLMode: "ANSI_QUOTES", TimeZone: "Europe/Paris", InitCommand: "SET SESSION wait_timeout = 60"}).sessionSetup(false), "; ")
	for _, want := range []string{"sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES'", "time_zone = 'Europe/Paris'",
		"transaction_isolation = 'READ-COMMITTED'", "; SET SESSION wait_timeout = 60"} {
		if !strings.Contains(got, want) {
			t.Errorf("MySQL setup %q lacks %q", got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		err  string
	}{
		{"ok", Config{}, ""},
		{"port", Config{Port: 70000}, "port"},
		{"charset", Config{Charset: "latin1"}, "utf8mb4"},
		{"tls mode", Config{TLS: TLSConfig{Mode: "sometimes"}}, "ssl mode"},
		{"cert without key", Config{TLS: TLSConfig{Cert: "c.pem"}}, "ssl_cert and ssl_key"},
		{"disabled with CA", Config{TLS: TLSConfig{Mode: TLSDisabled, CA: "ca.pem"}}, "disabled"},
		{"socket with TLS", Config{Socket: "/s", TLS: TLSConfig{Mode: TLSRequired}}, "Unix socket"},
		{"quote in sql_mode", Config{SQLMode: "ANSI'"}, "sql_mode"},
		{"quote in time_zone", Config{TimeZone: "x'"}, "time_zone"},
		{"pool size", Config{PoolSize: -1}, "pool_size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.err)
			}
		})
	}
}

// writeCA writes a self-signed CA certificate and returns its path.
func writeCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTLSModes(t *testing.T) {
	ca := writeCA(t)
	tests := []struct {
		mode       TLSMode
		ca         string
		none       bool // no TLS at all
		skip       bool // crypto/tls's own verification off
		customHook bool // chain verified by our hook
		serverName string
		roots      bool
	}{
		{mode: TLSDisabled, none: true},
		{mode: TLSPreferred, skip: true},
		{mode: TLSRequired, skip: true},
		{mode: TLSVerifyCA, ca: ca, skip: true, customHook: true, roots: true},
		{mode: TLSVerifyIdentity, ca: ca, serverName: "db.example.com", roots: true},
		{mode: TLSVerifyIdentity, serverName: "db.example.com"},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode)+"/"+tt.ca, func(t *testing.T) {
			tc, err := TLSConfig{Mode: tt.mode, CA: tt.ca}.tlsConfig("db.example.com")
			if err != nil {
				t.Fatal(err)
			}
			if tt.none {
				if tc != nil {
					t.Fatal("TLS configured for disabled")
				}
				return
			}
			if tc.InsecureSkipVerify != tt.skip || (tc.VerifyPeerCertificate != nil) != tt.customHook ||
				tc.ServerName != tt.serverName || (tc.RootCAs != nil) != tt.roots {
				t.Errorf("tls.Config skip=%v hook=%v name=%q roots=%v", tc.InsecureSkipVerify,
					tc.VerifyPeerCertificate != nil, tc.ServerName, tc.RootCAs != nil)
			}
		})
	}
	if _, err := (TLSConfig{Mode: TLSVerifyCA, CA: filepath.Join(t.TempDir(), "missing.pem")}).tlsConfig("h"); err == nil {
		t.Error("a missing CA file is accepted")
	}
	empty := filepath.Join(t.TempDir(), "empty.pem")
	os.WriteFile(empty, []byte("not a certificate"), 0o600)
	if _, err := (TLSConfig{Mode: TLSVerifyCA, CA: empty}).tlsConfig("h"); err == nil {
		t.Error("a CA file without a certificate is accepted")
	}
	// verify_ca's hook refuses a certificate from another CA.
	tc, _ := TLSConfig{Mode: TLSVerifyCA, CA: ca}.tlsConfig("h")
	other := writeCA(t)
	b, _ := os.ReadFile(other)
	blk, _ := pem.Decode(b)
	if err := tc.VerifyPeerCertificate([][]byte{blk.Bytes}, nil); err == nil {
		t.Error("verify_ca accepted a certificate its CA did not sign")
	}
}
