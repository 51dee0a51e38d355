package sqltext

import "testing"

// A typical ~100-byte application query.
const benchQuery = `SELECT id, name, email FROM users WHERE tenant_id = $1 AND status = 'active' ORDER BY id LIMIT $2`

const benchBatch = `BEGIN; UPDATE accounts SET balance = balance - $1 WHERE id = $2; /* audit */ INSERT INTO log VALUES ($2, 'x;y'); COMMIT;`

func BenchmarkTokens(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchQuery)))
	for b.Loop() {
		l := Lexer{src: benchQuery}
		for {
			if _, ok := l.Next(); !ok {
				break
			}
		}
	}
}

func BenchmarkSplit(b *testing.B) {
	benches := []struct {
		name string
		in   string
	}{
		{"single", benchQuery},
		{"batch", benchBatch},
	}
	for _, bc := range benches {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				Split(bc.in)
			}
		})
	}
}

func BenchmarkClassify(b *testing.B) {
	benches := []struct {
		name string
		in   string
	}{
		{"select", benchQuery},
		{"cte", `WITH recent AS (SELECT * FROM orders WHERE created > now() - interval '1 day') SELECT count(*) FROM recent`},
		{"insert", `INSERT INTO users (tenant_id, name, email) VALUES ($1, $2, $3) RETURNING id`},
		{"begin", `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`},
	}
	for _, bc := range benches {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				Classify(bc.in)
			}
		})
	}
}

func BenchmarkRewrite(b *testing.B) {
	benches := []struct {
		name  string
		in    string
		style Style
	}{
		{"numbered", benchQuery, StyleQuestionNumbered},
		{"question", benchQuery, StyleQuestion},
		{"no_dollar", `SELECT id, name, email FROM users WHERE tenant_id = 42 AND status = 'active' ORDER BY id LIMIT 10`, StyleQuestion},
	}
	for _, bc := range benches {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				Rewrite(bc.in, bc.style)
			}
		})
	}
}

func BenchmarkParseSet(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		ParseSet(`SET search_path TO "$user", public`)
	}
}

func BenchmarkCacheability(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchQuery)))
	for b.Loop() {
		Cacheability(benchQuery, Postgres)
	}
}

func BenchmarkWrites(b *testing.B) {
	const q = `UPDATE accounts SET balance = balance - $1 WHERE id = $2`
	b.ReportAllocs()
	b.SetBytes(int64(len(q)))
	for b.Loop() {
		Writes(q, Postgres)
	}
}
