package proxy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/xconnproxy/xconnproxy/backends"
	"github.com/xconnproxy/xconnproxy/cache"
	"github.com/xconnproxy/xconnproxy/internal/pgcode"
	"github.com/xconnproxy/xconnproxy/internal/sqltext"
	"github.com/xconnproxy/xconnproxy/routing"
)

// CachePolicies is implemented by a Router that also says how each
// connection's results are cached (routing.Registry does).
type CachePolicies interface {
	CachePolicy(connection string) routing.CachePolicy
}

// maxBatchBytes bounds the extended-protocol messages the cache holds
// back until their Sync: past it they are forwarded and not cached.
const maxBatchBytes = 64 << 10

// errNotShared is what a run that must not be shared (an error, a
// result too large to keep) gives the callers waiting for it: they run
// the statement themselves.
var errNotShared = errors.New("the result is not shared")

// resultCache serves one session's cacheable reads from the cache and
// fills it. It sits between the session loop and the backend session:
//
//   - every client message passes through message, which forwards it (or
//     holds extended-protocol messages back until their Sync, to see the
//     whole request) and notes what it writes;
//   - every backend message passes through the tee, which matches
//     answers to requests (one unit per Query, FunctionCall or Sync, ended
//     by its ReadyForQuery), holds back the answer of a request being
//     cached until it is complete, invalidates what a request wrote before
//     the client hears it is done, and follows the settings that are part
//     of the key.
//
// A request is served from the cache only when nothing else is in flight
// and the session is idle outside a transaction block, so a hit never
// overtakes an answer.
type resultCache struct {
	s    *session
	c    *cache.Cache
	near *cache.Near // the session's recent small answers, in front of c
	pol  routing.CachePolicy
	conn string
	tee  *tee

	off      bool   // SET xconn.cache = off
	disabled string // why caching stopped for the session (temporary objects, ...)

	batch      []backends.Frame // extended messages held back until Sync
	batchBytes int
	// arena holds the bodies of the batch's messages. After a batch the
	// cache answered (none of it reached a backend, which may keep
	// references to a body) it and batch are used again; otherwise the
	// next batch starts new ones.
	arena       []byte
	pendInval   []string // tables written by messages not yet in a unit
	pendBound   []string // statements bound since, whose writes are not worked out yet
	pendAll     bool
	pendParses  []parsed
	stmts       map[string]parsed // named statements (confirmed by a unit without error)
	unnamed     *parsed           // the client's unnamed statement
	unnamedGone bool              // ... which the server lacks (a hit took its Parse's place)
	syncsInCopy int
	// prefix is the digest of the key's session part, for the settings
	// at version prefixVer of the tee's (valid when hasPrefix).
	prefix    cache.Prefix
	prefixVer uint64
	hasPrefix bool
	// shape and shapeKey: the message types of the last batch keyed, and
	// the key's Shape for them.
	shape    []byte
	shapeKey string
	memo     map[string]*memoEntry // statement texts classified, by text
	// batchIDs are the IDs of recent extended requests (batchID), used
	// in turn from nextBatchID.
	batchIDs    [batchMemo]batchIDEntry
	nextBatchID int
}

// batchIDEntry is the ID of an extended request: the statement of memo
// entry e, with the parameter types, message shape and Bind given, under
// the settings of version ver.
type batchIDEntry struct {
	e     *memoEntry
	ver   uint64
	shape string
	types []uint32
	bind  []byte
	id    cache.ID
}

// parsed is a statement a client prepared.
type parsed struct {
	name  string
	query string
	types []uint32
	body  []byte     // the Parse message body, to send again
	memo  *memoEntry // how query may be cached, once looked up
}

// unit is one request the backend answers up to a ReadyForQuery.
type unit struct {
	capture  bool // hold the answer back: it may be cached
	buf      []byte
	overflow bool // too large: what was held went to the client
	done     chan struct{}
	failed   bool // an ErrorResponse came
	fatal    bool // ... a FATAL one: no ReadyForQuery follows
	errCode  string
	silent   bool // sent by the proxy: nothing of the answer reaches the client
	sync     bool // the unit of a Sync (the server ignores one sent during COPY FROM STDIN)
	wrapped  bool // runs inside the proxy's READ ONLY transaction: its ReadyForQuery says 'I'

	inval    []string
	invalAll bool
	parses   []parsed
	set      *sqltext.Set // a top-level SET of a key setting, applied on success
}

func newResultCache(s *session, c *cache.Cache, conn string, pol routing.CachePolicy, startup map[string]string) *resultCache {
	rc := &resultCache{s: s, c: c, near: c.Near(nearEntries, nearEntryBytes), pol: pol, conn: conn, stmts: map[string]parsed{}}
	rc.tee = &tee{rc: rc, w: s.w, settings: cache.Settings{Other: map[string]string{}}, status: 'I'}
	for k, v := range startup {
		rc.tee.setting(k, v)
	}
	if opts, err := backends.ParseOptions(startup["options"]); err == nil {
		for _, kv := range opts {
			rc.tee.setting(kv[0], kv[1])
		}
	}
	rc.tee.startup = map[string]string{}
	for k, v := range startup {
		rc.tee.startup[strings.ToLower(k)] = v
	}
	if opts, err := backends.ParseOptions(startup["options"]); err == nil {
		for _, kv := range opts {
			rc.tee.startup[strings.ToLower(kv[0])] = kv[1]
		}
	}
	return rc
}

// quiet reports whether the session may be answered from the cache now.
func (rc *resultCache) quiet() bool {
	return !rc.off && rc.disabled == "" && rc.tee.idle() && len(rc.batch) == 0
}

// message handles one client message.
func (rc *resultCache) message(f backends.Frame) error {
	switch f.Type {
	case 'Q':
		if err := rc.flushBatch(); err != nil {
			return err
		}
		return rc.query(f)
	case 'P', 'B', 'D', 'E', 'C':
		rc.note(f)
		if len(rc.batch) > 0 || rc.quiet() && (f.Type == 'P' || f.Type == 'B') {
			rc.hold(f)
			if rc.batchBytes > maxBatchBytes {
				return rc.flushBatch()
			}
			return nil
		}
		return rc.forward(f)
	case 'S':
		if len(rc.batch) > 0 {
			return rc.sync(f)
		}
		u := rc.newUnit()
		u.sync = true
		rc.tee.push(u)
		rc.syncsInCopy++
		return rc.forward(f)
	case 'F':
		// A function called by the fast path may write anything.
		rc.pendAll = true
		rc.tee.push(rc.newUnit())
		rc.syncsInCopy = 0
		return rc.forward(f)
	case 'c', 'f':
		// Syncs sent during COPY FROM STDIN get no answer.
		rc.tee.dropSyncs(rc.syncsInCopy)
		rc.syncsInCopy = 0
		return rc.forward(f)
	default: // Flush, CopyData
		if err := rc.flushBatch(); err != nil {
			return err
		}
		return rc.forward(f)
	}
}

// newUnit makes the unit of the next Query/FunctionCall/Sync, carrying
// what the messages since the last one wrote and prepared.
func (rc *resultCache) newUnit() *unit {
	for _, q := range rc.pendBound {
		rc.noteWrites(sqltext.Writes(q, rc.pol.Dialect))
	}
	rc.pendBound = rc.pendBound[:0]
	u := &unit{inval: rc.pendInval, invalAll: rc.pendAll, parses: rc.pendParses}
	rc.pendInval, rc.pendAll, rc.pendParses = nil, false, nil
	// Written tables are invalidated when the request is sent too: a read
	// that starts meanwhile must not be stored (the cache compares its
	// snapshot with this mark).
	rc.invalidate(u.inval, u.invalAll)
	return u
}

func (rc *resultCache) invalidate(tables []string, all bool) {
	switch {
	case all:
		rc.c.InvalidateAll(rc.conn)
	case len(tables) > 0:
		rc.c.Invalidate(rc.conn, tables...)
	}
}

// noteWrites records what a statement text writes, for invalidation, and
// stops caching for the session when it changes state the key cannot see.
func (rc *resultCache) noteWrites(ws sqltext.WriteSet) {
	rc.pendInval = append(rc.pendInval, sqltext.TableKeys(ws.Tables)...)
	rc.pendAll = rc.pendAll || ws.All
	if ws.Session && rc.disabled == "" {
		rc.disabled = "the session changed state the cache key cannot see (" + ws.Reason + ")"
		rc.s.log.Debug("result cache off for this session", "why", rc.disabled)
	}
}

// note does the bookkeeping of an extended-protocol message.
func (rc *resultCache) note(f backends.Frame) {
	switch f.Type {
	case 'P':
		if rc.unnamed != nil && bytes.Equal(rc.unnamed.body, f.Body) {
			return // the same unnamed statement again (most drivers' every query)
		}
		name, query, rest, ok := backends.TwoCStrings(f.Body)
		if !ok {
			return
		}
		p := parsed{name: name, query: query, types: oids(rest), body: append([]byte(nil), f.Body...)}
		rc.sessionEffects(query, false)
		if name == "" {
			rc.unnamed = &p
		} else {
			rc.pendParses = append(rc.pendParses, p)
		}
	case 'B':
		_, name, _, ok := bindNames(f.Body)
		if !ok {
			return
		}
		stmt := string(name) // "" without a copy for the unnamed statement
		// What it writes is worked out when the request goes to the
		// backend (newUnit): a cached answer never needs it.
		if stmt == "" {
			if rc.unnamed != nil {
				rc.pendBound = append(rc.pendBound, rc.unnamed.query)
			} else {
				rc.pendAll = true
			}
		} else if p, ok := rc.tee.stmt(stmt); ok {
			rc.pendBound = append(rc.pendBound, p.query)
		} else {
			rc.pendAll = true // a statement parsed outside the proxy's view
		}
	case 'C':
		if len(f.Body) > 1 && f.Body[0] == 'S' {
			if name, ok := backends.CString(f.Body[1:]); ok {
				if name == "" {
					rc.unnamed = nil
				} else {
					rc.tee.dropStmt(name)
				}
			}
		}
	case 'E':
		rc.syncsInCopy = 0
	}
}

// sessionEffects finds what a statement text does to the settings in
// the key. A single top-level SET outside a transaction block (trackable)
// is returned, to be recorded when it succeeds; any other change of a
// setting stops caching for the session, since the key could not follow.
func (rc *resultCache) sessionEffects(q string, trackable bool) *sqltext.Set {
	if !sqltext.ContainsFold(q, "set", "discard") { // RESET contains SET
		return nil
	}
	stmts := sqltext.Split(q)
	for _, st := range stmts {
		info := sqltext.Classify(st)
		if info.Kind != sqltext.Session {
			continue
		}
		switch info.Command {
		case "SET", "RESET", "DISCARD ALL":
			set, ok := sqltext.ParseSet(st)
			switch {
			case ok && (set.Local || set.Name == "xconn.cache"):
				continue
			case ok && !set.All && trackable && len(stmts) == 1:
				return &set
			}
			if rc.disabled == "" {
				rc.disabled = "a setting changed in a way the proxy does not follow (" + info.Command + ")"
				rc.s.log.Debug("result cache off for this session", "why", rc.disabled)
			}
		}
	}
	return nil
}

// sqlStatementNames forgets a statement name an SQL PREPARE or DEALLOCATE
// redefines: protocol-level and SQL-level statements share one name
// space, and the proxy no longer knows the text behind the name.
func (rc *resultCache) sqlStatementNames(q string) {
	if !sqltext.ContainsFold(q, "prepare", "deallocate") {
		return
	}
	for _, st := range sqltext.Split(q) {
		info := sqltext.Classify(st)
		if info.Command != "PREPARE" && info.Command != "DEALLOCATE" {
			continue
		}
		toks := sqltext.Significant(st)
		for i := 1; i < len(toks); i++ {
			t := toks[i]
			if t.Kind == sqltext.TokIdent && strings.EqualFold(t.Text, "prepare") && info.Command == "DEALLOCATE" {
				continue
			}
			name := t.Text
			if t.Kind == sqltext.TokQuotedIdent {
				name = t.Value()
			} else {
				name = strings.ToLower(name)
			}
			rc.tee.dropStmt(name)
			break
		}
	}
}

// hold keeps a copy of an extended message until its Sync.
func (rc *resultCache) hold(f backends.Frame) {
	start := len(rc.arena)
	rc.arena = append(rc.arena, f.Body...)
	// Capped at its length: a later append that grows the arena must
	// not write into this body's spare capacity.
	body := rc.arena[start:len(rc.arena):len(rc.arena)]
	rc.batch = append(rc.batch, backends.NewFrame(f.Type, body, backends.MessageDecoder{}))
	rc.batchBytes += len(body) + 5
}

// dropBatch ends the held batch. reuse says none of it reached a backend,
// so that its storage may serve the next batch.
func (rc *resultCache) dropBatch(reuse bool) {
	if reuse {
		rc.batch, rc.arena = rc.batch[:0], rc.arena[:0]
	} else {
		rc.batch, rc.arena = nil, nil
	}
	rc.batchBytes = 0
}

// flushBatch forwards the messages held back.
func (rc *resultCache) flushBatch() error {
	batch := rc.batch
	rc.dropBatch(false)
	for _, f := range batch {
		if err := rc.forward(f); err != nil {
			return err
		}
	}
	return nil
}

// query handles a simple Query.
func (rc *resultCache) query(f backends.Frame) error {
	quiet := rc.quiet()
	var q string
	var ci cacheInfo
	var me *memoEntry
	if quiet {
		me = rc.classify(f.Body)
		q, ci = me.q, me.ci
	} else {
		q, _ = backends.CString(f.Body)
	}
	rc.syncsInCopy = 0
	rc.unnamed = nil // a simple Query destroys the unnamed statement
	if strings.Contains(q, "xconn") {
		if set, ok := sqltext.ParseSet(q); ok && set.Name == "xconn.cache" && !set.Local && rc.tee.idle() {
			return rc.setCacheMode(set)
		}
	}
	if quiet {
		// A cacheable statement only reads: it writes nothing and changes
		// no setting, so the analyses below have nothing to find.
		if ci.Cacheable && !ci.NoCache {
			key, id := rc.queryKey(me)
			return rc.serve(key, id, ci, func() error { return rc.forward(f) })
		} else if ci.Reason != "" {
			rc.s.log.Debug("not cached", "why", ci.Reason)
		}
	}
	rc.noteWrites(sqltext.Writes(q, rc.pol.Dialect))
	rc.sqlStatementNames(q)
	set := rc.sessionEffects(q, rc.tee.idle())
	u := rc.newUnit()
	u.set = set
	rc.tee.push(u)
	return rc.forward(f)
}

// setCacheMode answers SET xconn.cache itself: the backend need not know
// the setting.
func (rc *resultCache) setCacheMode(set sqltext.Set) error {
	w := rc.s.w
	switch v := strings.ToLower(set.Value); {
	case set.Default || v == "on" || v == "true" || v == "1":
		rc.off = false
	case v == "off" || v == "false" || v == "0":
		rc.off = true
	default:
		e := pgcode.New(pgcode.InvalidParameterValue, fmt.Sprintf("invalid value for parameter \"xconn.cache\": %q", set.Value))
		e.Hint = "Use on or off."
		_ = w.Send(e.Response())
		return w.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	}
	tag := "SET"
	if set.Reset {
		tag = "RESET"
	}
	_ = w.Send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	return w.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
}

// sync handles the Sync that ends a held extended batch: a batch of one
// read (Parse of the unnamed statement or none, Bind, Describe of the
// portal or none, Execute without a row limit) may be served from the
// cache; anything else is forwarded.
func (rc *resultCache) sync(f backends.Frame) error {
	key, me, ok := rc.batchKey()
	batch, arena := rc.batch, rc.arena
	rc.dropBatch(false)
	var id cache.ID
	if ok = ok && rc.quiet(); ok { // a batch behind another request or in a transaction is not hashed
		id, ok = rc.batchID(&key, me)
	}
	if !ok {
		if err := rc.restoreUnnamed(batch); err != nil {
			return err
		}
		u := rc.newUnit()
		u.sync = true
		rc.tee.push(u)
		rc.syncsInCopy++
		for _, m := range batch {
			if err := rc.forward(m); err != nil {
				return err
			}
		}
		return rc.forward(f)
	}
	forwarded := false
	err := rc.serve(key, id, me.ci, func() error {
		forwarded = true
		for _, m := range batch {
			if err := rc.forward(m); err != nil {
				return err
			}
		}
		return rc.forward(f)
	})
	if !forwarded && len(rc.batch) == 0 && rc.arena == nil {
		// Answered without the backend: the storage serves again.
		rc.batch, rc.arena = batch[:0], arena[:0]
	}
	return err
}

// forward sends a client message to the backend. A client that binds or
// describes its unnamed statement after a cached answer took the place of
// its Parse (or the proxy's COMMIT destroyed it) gets it prepared again
// first, silently.
func (rc *resultCache) forward(f backends.Frame) error {
	switch f.Type {
	case 'P':
		if name, _ := backends.CString(f.Body); name == "" {
			rc.unnamedGone = false
		}
	case 'Q':
		rc.unnamedGone = false // a simple Query destroys it anyway
	case 'B', 'D':
		if rc.unnamedGone && rc.unnamed != nil && usesUnnamed(f) {
			rc.unnamedGone = false
			if _, err := rc.silently(backends.NewFrame('P', rc.unnamed.body, backends.MessageDecoder{}), syncFrame); err != nil {
				return err
			}
		}
	}
	return rc.s.handle(f)
}

// restoreUnnamed prepares the unnamed statement again before a batch
// that uses it without parsing it, before the batch's own unit exists.
func (rc *resultCache) restoreUnnamed(batch []backends.Frame) error {
	for _, m := range batch {
		if m.Type == 'P' {
			return nil
		}
		if (m.Type == 'B' || m.Type == 'D') && rc.unnamedGone && rc.unnamed != nil && usesUnnamed(m) {
			rc.unnamedGone = false
			_, err := rc.silently(backends.NewFrame('P', rc.unnamed.body, backends.MessageDecoder{}), syncFrame)
			return err
		}
	}
	return nil
}

// usesUnnamed reports a Bind of, or a Describe of, the unnamed statement.
func usesUnnamed(f backends.Frame) bool {
	if f.Type == 'B' {
		_, stmt, _, ok := backends.TwoCStrings(f.Body)
		return ok && stmt == ""
	}
	return len(f.Body) == 2 && f.Body[0] == 'S' && f.Body[1] == 0
}

var syncFrame = backends.NewFrame('S', nil, backends.MessageDecoder{})

// batchKey returns the key of a held batch that may be cached, and the
// memo entry of its statement. The Bind's values are not looked at yet:
// batchID does that, once for each distinct Bind.
func (rc *resultCache) batchKey() (cache.Key, *memoEntry, bool) {
	var shapeBuf [8]byte
	shape := shapeBuf[:0]
	var p *parsed
	var bindArgs []byte // the Bind body from its parameter format codes on
	for _, f := range rc.batch {
		if len(shape) == cap(shape) {
			return cache.Key{}, nil, false // longer than any cacheable request
		}
		shape = append(shape, f.Type)
		switch f.Type {
		case 'P':
			if len(f.Body) == 0 || f.Body[0] != 0 {
				return cache.Key{}, nil, false // a named Parse must reach the server
			}
			if rc.unnamed != nil && bytes.Equal(rc.unnamed.body, f.Body) {
				p = rc.unnamed // note made it of this very message
				break
			}
			_, query, rest, ok := backends.TwoCStrings(f.Body)
			if !ok {
				return cache.Key{}, nil, false
			}
			p = &parsed{query: query, types: oids(rest)}
		case 'B':
			portal, stmt, args, ok := bindNames(f.Body)
			if !ok || len(portal) > 0 {
				return cache.Key{}, nil, false
			}
			if p == nil {
				if len(stmt) == 0 {
					// The unnamed statement of an earlier request: the
					// proxy's READ ONLY transaction around a miss (simple
					// Queries) would destroy it before the Bind.
					return cache.Key{}, nil, false
				} else if q, ok := rc.tee.stmt(string(stmt)); ok {
					p = &q
				} else {
					return cache.Key{}, nil, false
				}
			} else if len(stmt) > 0 {
				return cache.Key{}, nil, false
			}
			bindArgs = args
		case 'D':
			if len(f.Body) < 2 || f.Body[0] != 'P' || f.Body[1] != 0 {
				return cache.Key{}, nil, false
			}
		case 'E':
			if len(f.Body) != 5 || f.Body[0] != 0 || binary.BigEndian.Uint32(f.Body[1:]) != 0 {
				return cache.Key{}, nil, false // a named portal or a row limit
			}
		default:
			return cache.Key{}, nil, false
		}
	}
	if bindArgs == nil || p == nil || !cacheableShape(shape) {
		return cache.Key{}, nil, false
	}
	if p.memo == nil {
		p.memo = rc.classifyEntry(p.query) // kept in rc.unnamed for the next batch
	}
	if ci := p.memo.ci; !ci.Cacheable || ci.NoCache {
		return cache.Key{}, nil, false
	}
	if !bytes.Equal(rc.shape, shape) {
		rc.shape, rc.shapeKey = append(rc.shape[:0], shape...), string(shape)+"S"
	}
	key := rc.key(rc.shapeKey, p.query)
	key.ParamTypes = p.types
	key.Bind = bindArgs
	return key, p.memo, true
}

// batchID returns the ID of a batch batchKey gave key and e for, or
// false when a parameter value makes the answer depend on the time it
// runs. The IDs of the session's recent batches are remembered with the
// Bind they were made for: a repeated request (a dashboard's, a pool's
// health check) is neither checked nor hashed again.
func (rc *resultCache) batchID(key *cache.Key, e *memoEntry) (cache.ID, bool) {
	for i := range rc.batchIDs {
		b := &rc.batchIDs[i]
		if b.e == e && b.ver == rc.prefixVer && b.shape == key.Shape &&
			bytes.Equal(b.bind, key.Bind) && slices.Equal(b.types, key.ParamTypes) {
			return b.id, true
		}
	}
	// Every value is checked, binary ones too: a text parameter sent in
	// binary is the same bytes.
	timeDependent := false
	if !eachBindParam(key.Bind, func(_ int16, v []byte) bool {
		timeDependent = v != nil && sqltext.TimeDependentLiteral(string(v))
		return !timeDependent
	}) || timeDependent {
		return cache.ID{}, false
	}
	id := key.IDWith(rc.prefix)
	// A text too long for the session's memo is not kept here either:
	// it would be pinned in memory, and a named statement's entry is
	// made anew each time, so its ID would not be found again.
	if len(key.Bind) <= maxMemoBind && len(e.q) <= maxClassifiedText {
		b := &rc.batchIDs[rc.nextBatchID]
		rc.nextBatchID = (rc.nextBatchID + 1) % len(rc.batchIDs)
		b.e, b.ver, b.shape, b.id = e, rc.prefixVer, key.Shape, id
		b.bind = append(b.bind[:0], key.Bind...)
		b.types = append(b.types[:0], key.ParamTypes...)
	}
	return id, true
}

// cacheableShape reports a batch the key describes: an optional Parse of
// the unnamed statement, one Bind of it (or of a named statement), an
// optional Describe of the portal, one Execute. Any other order (a Parse
// after the Bind, two Binds) runs something other than the text keyed.
func cacheableShape(shape []byte) bool {
	if len(shape) > 0 && shape[0] == 'P' {
		shape = shape[1:]
	}
	switch string(shape) {
	case "BE", "BDE":
		return true
	}
	return false
}

// bindNames splits a Bind body into its portal and statement names and
// the rest (parameter formats, values, result formats), without copying.
func bindNames(body []byte) (portal, stmt, rest []byte, ok bool) {
	i := bytes.IndexByte(body, 0)
	if i < 0 {
		return nil, nil, nil, false
	}
	j := bytes.IndexByte(body[i+1:], 0)
	if j < 0 {
		return nil, nil, nil, false
	}
	return body[:i], body[i+1 : i+1+j], body[i+2+j:], true
}

// eachBindParam calls fn with each parameter of a Bind body's rest (see
// bindNames) and its format code, until fn returns false. It reports
// false for a malformed body.
func eachBindParam(rest []byte, fn func(format int16, v []byte) bool) bool {
	if len(rest) < 2 {
		return false
	}
	nf := int(binary.BigEndian.Uint16(rest))
	formats := rest[2:]
	if len(formats) < 2*nf+2 {
		return false
	}
	params := formats[2*nf:]
	np := int(binary.BigEndian.Uint16(params))
	params = params[2:]
	for i := 0; i < np; i++ {
		if len(params) < 4 {
			return false
		}
		n := int(int32(binary.BigEndian.Uint32(params)))
		params = params[4:]
		var v []byte
		if n >= 0 {
			if len(params) < n {
				return false
			}
			v, params = params[:n], params[n:]
		}
		format := int16(0)
		switch {
		case nf == 1:
			format = int16(binary.BigEndian.Uint16(formats))
		case i < nf:
			format = int16(binary.BigEndian.Uint16(formats[2*i:]))
		}
		if !fn(format, v) {
			return true
		}
	}
	return true
}

func (rc *resultCache) key(shape, statement string) cache.Key {
	settings, ver := rc.tee.keySettings()
	k := cache.Key{Conn: rc.conn, ConfigHash: rc.pol.ConfigHash, User: rc.pol.User, Shape: shape,
		Statement: statement, Settings: settings}
	if !rc.hasPrefix || rc.prefixVer != ver {
		rc.prefix, rc.prefixVer, rc.hasPrefix = k.Prefix(), ver, true
	}
	return k
}

// queryKey returns the key of the simple Query classify gave e for, and
// its ID. The ID is remembered in e, for the settings it was made under:
// a repeated read is not hashed again.
func (rc *resultCache) queryKey(e *memoEntry) (cache.Key, cache.ID) {
	key := rc.key("Q", e.q)
	if e.hasID && e.idVer == rc.prefixVer {
		return key, e.id
	}
	e.id, e.idVer, e.hasID = key.IDWith(rc.prefix), rc.prefixVer, true
	return key, e.id
}

// serve answers a cacheable request, whose id key.IDWith(rc.prefix)
// made: from the cache, from a run of the same request by another
// session, or by running it (forward) and keeping the answer.
func (rc *resultCache) serve(key cache.Key, id cache.ID, ci cacheInfo, forward func() error) error {
	ttl := rc.pol.TTL
	if ci.TTL > 0 {
		ttl = ci.TTL
	}
	tables := ci.keys
	var mine *unit
	var handleErr error
	wrap := false
	res, err := rc.near.Do(rc.s.srv.ctx, id, tables, func() (cache.Fill, error) {
		// SHOW changes nothing, and inside the transaction it would show
		// the transaction's settings (transaction_read_only).
		wrap = !strings.EqualFold(sqltext.FirstKeyword(key.Statement), "SHOW")
		// The request runs in a READ ONLY transaction sent in the same
		// write: what is stored is what the backend agreed changes nothing.
		mine = &unit{capture: true, wrapped: wrap, done: make(chan struct{})}
		if wrap {
			if _, handleErr = rc.silently(beginReadOnly); handleErr != nil {
				return cache.Fill{}, errNotShared
			}
		}
		rc.tee.push(mine)
		if handleErr = forward(); handleErr != nil {
			return cache.Fill{}, errNotShared
		}
		if wrap {
			// Sent in the same write; its answer reaches nobody, and the
			// client's next request queues behind it on the wire.
			if _, handleErr = rc.silently(commit); handleErr != nil {
				return cache.Fill{}, errNotShared
			}
		}
		select {
		case <-mine.done:
		case <-rc.s.srv.ctx.Done():
			return cache.Fill{}, errNotShared
		}
		if mine.failed || mine.overflow {
			return cache.Fill{}, errNotShared
		}
		return cache.Fill{Frames: mine.buf, TTL: ttl}, nil
	})
	switch {
	case mine != nil: // this session ran it
		if handleErr != nil {
			return handleErr
		}
		if mine.failed && rc.pol.StaleIfError > 0 && unreachable(mine.errCode) {
			if e, ok := rc.c.GetStale(id, rc.pol.StaleIfError); ok {
				rc.s.log.Info("served a stale result: the backend did not answer", "sqlstate", mine.errCode, "age", time.Since(e.Stored).Round(time.Second))
				return rc.reply(staleNotice(e.Stored), e.Frames)
			}
		}
		if mine.overflow {
			return nil // already streamed to the client
		}
		if mine.errCode == pgcode.ReadOnlySQLTransaction {
			// The backend says the statement writes, which the classifier
			// did not see: it runs again as the client sent it.
			rc.s.log.Warn("a statement taken for a read tried to write; not cached", "connection", rc.conn)
			rc.tee.push(rc.newUnit())
			rc.c.InvalidateAll(rc.conn)
			return forward()
		}
		if wrap && strings.Contains(key.Shape, "P") {
			rc.unnamedGone = true // the proxy's COMMIT destroyed it
		}
		if rc.s.debug {
			rc.s.log.Debug("result cache miss", "key", id.String(), "stored", res.NotStored == nil && err == nil)
		}
		return rc.reply(nil, mine.buf)
	case err == nil: // from the cache, or shared with a run of another session
		if rc.s.debug {
			rc.s.log.Debug("result cache "+res.Source.String(), "key", id.String())
		}
		if strings.Contains(key.Shape, "P") {
			rc.unnamedGone = true // the server never saw this Parse
		}
		rc.pendBound = rc.pendBound[:0] // reads: nothing to invalidate
		return rc.reply(nil, res.Frames)
	default: // the run we waited for is not ours to share: run it ourselves
		u := rc.newUnit()
		rc.tee.push(u)
		return forward()
	}
}

// The statements around a request being cached, as simple Queries.
var (
	beginReadOnly = queryFrame("BEGIN READ ONLY")
	commit        = queryFrame("COMMIT")
)

func queryFrame(sql string) backends.Frame {
	return backends.NewFrame('Q', append([]byte(sql), 0), backends.MessageDecoder{})
}

// silently sends a request whose answer the client never sees. The
// channel is closed when the answer is complete.
func (rc *resultCache) silently(fs ...backends.Frame) (<-chan struct{}, error) {
	u := &unit{silent: true, done: make(chan struct{})}
	rc.tee.push(u)
	for _, f := range fs {
		if err := rc.s.handle(f); err != nil {
			return u.done, err
		}
	}
	return u.done, nil
}

// reply writes a complete answer in one write.
func (rc *resultCache) reply(notice *pgproto3.NoticeResponse, frames []byte) error {
	if notice != nil {
		_ = rc.s.w.Send(notice)
	}
	if err := rc.s.w.SendRaw(frames); err != nil {
		return err
	}
	return rc.s.w.Flush()
}

func staleNotice(stored time.Time) *pgproto3.NoticeResponse {
	return &pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: "01000",
		Message: fmt.Sprintf("xconnproxy: the server did not answer; this is a cached result from %s", stored.UTC().Format(time.RFC3339))}
}

// unreachable reports the SQLSTATEs of a backend that cannot answer:
// connection exceptions and the server shutting down or starting.
func unreachable(code string) bool {
	return strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03" || code == "53300"
}

// cacheInfo is what the classifier says of a statement, with its tables'
// invalidation keys.
type cacheInfo struct {
	sqltext.CacheInfo
	keys []string
}

// classified remembers the classifier's verdicts by statement text:
// applications send the same few statements again and again, and a hit
// should not pay for reading the SQL each time. It is emptied when full.
var classified struct {
	sync.Mutex
	m map[classifiedKey]cacheInfo
}

type classifiedKey struct {
	text    string
	dialect sqltext.Dialect
}

const (
	maxClassified     = 4096
	maxClassifiedText = 4 << 10
)

// cacheability is sqltext.Cacheability, remembered.
// sessionMemo bounds a session's own memo of classified statements.
const sessionMemo = 64

// A session keeps its most recent small answers in front of the shared
// cache (cache.Near): at most nearEntries of up to nearEntryBytes each,
// 32 KiB a session.
const (
	nearEntries    = 16
	nearEntryBytes = 2 << 10
)

// A session remembers the IDs of its batchMemo most recent extended
// requests whose Bind is at most maxMemoBind bytes: 8 KiB a session.
const (
	batchMemo   = 32
	maxMemoBind = 256
)

// classify returns the text of a Query body and how it may be cached,
// from the session's memo when it has seen the text before: no copy of
// the text, no lock.
func (rc *resultCache) classify(body []byte) *memoEntry {
	if i := bytes.IndexByte(body, 0); i >= 0 {
		body = body[:i]
	}
	if e, ok := rc.memo[string(body)]; ok {
		return e
	}
	return rc.classifyEntry(string(body))
}

// classifyEntry returns the memo entry of q, made and (for a text short
// enough) remembered when the session has not seen q before.
func (rc *resultCache) classifyEntry(q string) *memoEntry {
	if e, ok := rc.memo[q]; ok {
		return e
	}
	e := &memoEntry{q: q, ci: cacheability(q, rc.pol.Dialect)}
	if len(q) <= maxClassifiedText {
		if rc.memo == nil || len(rc.memo) >= sessionMemo {
			rc.memo = make(map[string]*memoEntry, sessionMemo)
		}
		rc.memo[q] = e
	}
	return e
}

// memoEntry is a statement text the session classified, with its ID as
// a simple Query under the settings of version idVer (when hasID).
type memoEntry struct {
	q     string
	ci    cacheInfo
	id    cache.ID
	idVer uint64
	hasID bool
}

func cacheability(q string, d sqltext.Dialect) cacheInfo {
	k := classifiedKey{q, d}
	classified.Lock()
	ci, ok := classified.m[k]
	classified.Unlock()
	if ok {
		return ci
	}
	c := sqltext.Cacheability(q, d)
	ci = cacheInfo{CacheInfo: c, keys: sqltext.TableKeys(c.Tables)}
	if len(q) > maxClassifiedText {
		return ci // the memory is for the many short statements
	}
	classified.Lock()
	if classified.m == nil || len(classified.m) >= maxClassified {
		classified.m = make(map[classifiedKey]cacheInfo, maxClassified)
	}
	classified.m[k] = ci
	classified.Unlock()
	return ci
}

// tee sees every backend message of the session.
type tee struct {
	rc *resultCache
	w  *msgWriter

	mu       sync.Mutex
	units    []*unit
	settings cache.Settings
	settVer  uint64   // changes with settings
	txInval  []string // tables written in the current transaction block
	txAll    bool
	startup  map[string]string // settings as the session started, for RESET
	status   byte              // the last ReadyForQuery the client got
}

var _ backends.FrameWriter = (*tee)(nil)

// idle reports that the client has every answer it asked for and is
// outside a transaction block. Requests the proxy sent on its own
// (silent) do not count: nothing of them reaches the client.
func (t *tee) idle() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, u := range t.units {
		if !u.silent {
			return false
		}
	}
	return t.status == 'I'
}

func (t *tee) push(u *unit) {
	t.mu.Lock()
	t.units = append(t.units, u)
	t.mu.Unlock()
}

// dropSyncs removes the n most recent units of plain Syncs: the server
// ignored them in COPY FROM STDIN.
func (t *tee) dropSyncs(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := len(t.units) - 1; i >= 0 && n > 0; i-- {
		if u := t.units[i]; u.sync && !u.capture {
			t.units = slices.Delete(t.units, i, i+1)
			n--
		}
	}
}

// stmt returns a named statement the client prepared.
func (t *tee) stmt(name string) (parsed, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.rc.stmts[name]
	return p, ok
}

func (t *tee) dropStmt(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.rc.stmts, name)
}

// Send encodes a message and passes it on.
func (t *tee) Send(msg pgproto3.BackendMessage) error {
	b, err := msg.Encode(nil)
	if err != nil {
		return err
	}
	return t.SendFrame(b[0], b[5:])
}

// Flush flushes the client's buffer unless an answer is being held back.
func (t *tee) Flush() error {
	t.mu.Lock()
	holding := len(t.units) > 0 && t.units[0].capture && !t.units[0].overflow
	t.mu.Unlock()
	if holding {
		return nil
	}
	return t.w.Flush()
}

// SendFrame routes one backend message.
func (t *tee) SendFrame(typ byte, body []byte) error {
	t.mu.Lock()
	var u *unit
	if len(t.units) > 0 {
		u = t.units[0]
	}
	switch typ {
	case 'S':
		var ps pgproto3.ParameterStatus
		if ps.Decode(body) == nil {
			t.setting(ps.Name, ps.Value)
		}
	case 'E':
		if u != nil {
			u.failed = true
			var e pgproto3.ErrorResponse
			if e.Decode(body) == nil {
				u.errCode = e.Code
				u.fatal = e.Severity == "FATAL" || e.Severity == "PANIC"
			}
		}
	case 'C':
		if tag, _ := backends.CString(body); tag == "DISCARD ALL" || tag == "DEALLOCATE ALL" {
			clear(t.rc.stmts)
		}
	}
	if typ == 'A' {
		// A notification belongs to no request: it goes to the client
		// as it comes, never into a cached answer nor dropped.
		t.mu.Unlock()
		return t.w.SendFrame(typ, body)
	}
	end := u != nil && (typ == 'Z' || u.fatal)
	var orphans []*unit
	if end {
		t.units = t.units[1:]
		if u.fatal {
			// No answer follows a FATAL: the requests after it are over.
			orphans, t.units = t.units, nil
		}
	}
	defer func() {
		for _, o := range orphans {
			if o.done != nil {
				close(o.done)
			}
		}
	}()
	if u != nil && u.silent {
		t.mu.Unlock()
		if end && u.done != nil {
			close(u.done)
		}
		return nil
	}
	if u != nil && u.wrapped && typ == 'Z' {
		// Outside the proxy's transaction the client is idle, failed
		// statement or not (a simple Query's error ends its implicit
		// transaction).
		body = []byte{'I'}
	}
	if u != nil && u.capture && typ == 'Z' && len(body) == 1 {
		t.status = body[0]
	}
	if u != nil && u.capture && !u.overflow {
		u.buf = backends.AppendMessage(u.buf, typ, body)
		if len(u.buf) > t.rc.c.Config().MaxEntryBytes {
			// Too large to keep: stream it.
			u.overflow = true
			held := u.buf
			u.buf = nil
			t.mu.Unlock()
			if err := t.w.SendRaw(held); err != nil {
				return err
			}
			if end {
				close(u.done)
			}
			return nil
		}
		t.mu.Unlock()
		if end {
			close(u.done)
		}
		return nil
	}
	if end && u != nil {
		t.finish(u, typ, body)
		if typ == 'Z' && len(body) == 1 {
			t.status = body[0]
		}
	}
	t.mu.Unlock()
	if end && u != nil && u.capture {
		close(u.done)
	}
	return t.w.SendFrame(typ, body)
}

// finish does what a request that was not held back needs at its end,
// before the client hears of it. Called with t.mu held.
func (t *tee) finish(u *unit, typ byte, body []byte) {
	// A write is invalidated again now that it is done: a read that ran
	// meanwhile is not stored, and no read after this one finds old rows.
	t.rc.invalidate(u.inval, u.invalAll)
	// ... and what a transaction block wrote, once more when it ends: a
	// read by another session before the commit saw the old rows.
	t.txInval = append(t.txInval, u.inval...)
	t.txAll = t.txAll || u.invalAll
	if typ == 'Z' && len(body) == 1 && body[0] == 'I' {
		if len(t.txInval) > 0 || t.txAll {
			t.rc.invalidate(t.txInval, t.txAll)
		}
		t.txInval, t.txAll = t.txInval[:0], false
	}
	if u.failed {
		return
	}
	for _, p := range u.parses {
		t.rc.stmts[p.name] = p
	}
	if u.set != nil && typ == 'Z' && len(body) == 1 && body[0] == 'I' {
		v := u.set.Value
		if u.set.Default {
			// RESET returns to the value the session started with.
			v = t.startup[strings.ToLower(u.set.Name)]
		}
		t.setting(u.set.Name, v)
	}
}

// setting records a setting that is part of the key. Called with t.mu
// held, or before the tee is in use.
func (t *tee) setting(name, value string) {
	t.settVer++
	switch strings.ToLower(name) {
	case "search_path":
		t.settings.SearchPath = value
	case "timezone":
		t.settings.TimeZone = value
	case "datestyle":
		t.settings.DateStyle = value
	case "intervalstyle":
		t.settings.IntervalStyle = value
	case "extra_float_digits":
		t.settings.ExtraFloatDigits = value
	case "bytea_output":
		t.settings.ByteaOutput = value
	case "client_encoding":
		t.settings.ClientEncoding = value
	case "user", "database", "options", "application_name", "replication", "xconn.cache":
	default:
		if strings.HasPrefix(name, "_pq_.") {
			return
		}
		// Copied on write: keySettings hands the map out without a copy.
		other := make(map[string]string, len(t.settings.Other)+1)
		for k, v := range t.settings.Other {
			other[k] = v
		}
		other[strings.ToLower(name)] = value
		t.settings.Other = other
	}
}

func (t *tee) keySettings() (cache.Settings, uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.settings // Other is never changed in place (setting copies it)
	if len(s.Other) == 0 {
		s.Other = nil
	}
	return s, t.settVer
}

// oids reads the parameter type OIDs at the end of a Parse body.
func oids(b []byte) []uint32 {
	if len(b) < 2 {
		return nil
	}
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if len(b) < 4*n {
		return nil
	}
	out := make([]uint32, n)
	for i := range out {
		out[i] = binary.BigEndian.Uint32(b[4*i:])
	}
	return out
}
