package cache

import (
	"context"
	"sync/atomic"
	"time"
)

// Source says where Do's result came from.
type Source uint8

const (
	// FromCache: a fresh entry was found; nothing ran.
	FromCache Source = iota + 1
	// Ran: this caller ran fn.
	Ran
	// Shared: another caller was already running the same statement and
	// this one received its result.
	Shared
)

var sourceNames = [...]string{FromCache: "cache", Ran: "ran", Shared: "shared"}

func (s Source) String() string {
	if int(s) < len(sourceNames) && sourceNames[s] != "" {
		return sourceNames[s]
	}
	return "Source(?)"
}

// Fill is what Do's fn returns: the complete response and how to keep it.
type Fill struct {
	// Frames is the complete response. Do shares it with every waiting
	// caller, so fn must not modify it afterwards.
	Frames []byte
	// TTL is how long to keep it; 0 means Config.DefaultTTL.
	TTL time.Duration
	// NoStore delivers the frames to the waiting callers without storing
	// them (for example when the backend did not confirm the statement
	// was read-only).
	NoStore bool
}

// Result is what Do returns.
type Result struct {
	// Frames is the response: from the cache, from this caller's fn, or
	// shared from another caller's fn. Shared slices must not be modified.
	Frames []byte
	Source Source
	// NotStored says why this caller's run was not stored (ErrTooLarge,
	// ErrInvalidated, ErrNoStore...), nil if it was; always nil unless
	// Source is Ran.
	NotStored error
}

// flight is one run of a statement that other callers may wait for.
type flight struct {
	snap    Generation
	done    chan struct{}
	frames  []byte
	err     error
	waiters atomic.Int32 // callers waiting, for tests and debugging
}

// Do returns the response for id: a fresh entry if there is one;
// otherwise, if another caller is running the same statement and nothing
// it reads has been invalidated since that run started, that run's
// result; otherwise it runs fn, stores what it returns and shares it with
// the callers that arrived meanwhile.
//
// The run is snapshotted before fn is called, so a write that completes
// while fn runs keeps the result out of the cache (it is still returned).
// A caller that arrives after such a write does not join the run: it
// starts its own, so it reads its own writes.
//
// fn's error is returned to every caller of the run and nothing is
// stored: errors are never cached. Return only errors that every caller
// would get (the backend's); a failure of the runner's own client
// connection belongs after Do. If fn panics or calls runtime.Goexit, the
// panic goes on in the runner's goroutine and the waiters get
// ErrAbandoned. ctx bounds only the wait for another caller's run; fn
// watches its own context.
func (c *Cache) Do(ctx context.Context, id ID, tables []string, fn func() (Fill, error)) (Result, error) {
	if e, ok := c.Get(id); ok {
		return Result{Frames: e.Frames, Source: FromCache}, nil
	}
	return c.run(ctx, id, tables, fn)
}

// run is Do after its lookup missed: it joins a run of another caller or
// makes its own.
func (c *Cache) run(ctx context.Context, id ID, tables []string, fn func() (Fill, error)) (Result, error) {
	c.flightMu.Lock()
	if f, ok := c.flights[id.key]; ok && c.existingState(id.conn).validAt(f.snap, tables, nil) {
		f.waiters.Add(1)
		c.flightMu.Unlock()
		select {
		case <-f.done:
			c.state(id.conn).stats.shared.Add(1)
			return Result{Frames: f.frames, Source: Shared}, f.err
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
	}
	// No run, or one that started before a write to its tables: start
	// ours. The older run keeps its waiters and will not be stored.
	f := &flight{snap: c.Snapshot(), done: make(chan struct{})}
	c.flights[id.key] = f
	c.flightMu.Unlock()

	returned := false
	defer func() {
		if !returned {
			f.err = ErrAbandoned // fn panicked or exited; let that go on
		}
		c.flightMu.Lock()
		if c.flights[id.key] == f {
			delete(c.flights, id.key)
		}
		c.flightMu.Unlock()
		close(f.done)
	}()
	fill, err := fn()
	returned = true
	if err != nil {
		f.err = err
		return Result{Source: Ran}, err
	}
	f.frames = fill.Frames
	res := Result{Frames: fill.Frames, Source: Ran}
	if fill.NoStore {
		res.NotStored = ErrNoStore
	} else {
		res.NotStored = c.Put(id, f.snap, tables, fill.TTL, fill.Frames)
	}
	return res, nil
}
