package backends

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Waits between attempts to reach a server that is down.
const (
	RetryFirst = 50 * time.Millisecond
	RetryMax   = 2 * time.Second
)

// Backoff is the wait between attempts to reach a server that is down:
// RetryFirst doubling to RetryMax, each with ±20% jitter, so that clients
// (or proxies) that lost the server together do not retry in step.
type Backoff struct{ step time.Duration }

// Next returns the wait before the next attempt.
func (b *Backoff) Next() time.Duration {
	if b.step == 0 {
		b.step = RetryFirst
	}
	w := b.step
	b.step = min(2*b.step, RetryMax)
	return w*4/5 + time.Duration(rand.Int64N(int64(w*2/5)+1))
}

// Reconnector makes the attempts to reach one server while it is down:
// one caller retries with backoff, up to a timeout, and the others wait for
// it instead of storming the server. Those that waited while it gave up
// share its error instead of retrying for a timeout each, one after the
// other. The zero value is ready; Timeout zero means one attempt.
type Reconnector struct {
	Timeout time.Duration

	down atomic.Bool
	// turn is held by the caller that retries: a channel, so that the
	// others can stop waiting for it when their context ends (a cancel
	// request).
	once      sync.Once
	turn      chan struct{}
	gaveUp    time.Time // under turn: when the last one gave up
	gaveUpErr error
}

// Down reports whether the server is known to be unreachable: the last
// attempt to reach it failed.
func (r *Reconnector) Down() bool { return r.down.Load() }

// Do calls try, at once when the server is not known to be down. While try
// fails with an error that retryable accepts, it is called again after a
// Backoff wait, until Timeout (or ctx's deadline, if sooner); then the
// error is giveUp(last error). It
// reports whether the server came back after being down (the caller may
// drop what it kept from before).
func (r *Reconnector) Do(ctx context.Context, try func(context.Context) error, retryable func(error) bool,
	giveUp func(last error) error) (recovered bool, err error) {
	if !r.down.Load() {
		err := try(ctx)
		if err == nil || !retryable(err) || r.Timeout <= 0 {
			return false, err
		}
		r.down.Store(true)
	}
	waitFrom := time.Now()
	r.once.Do(func() { r.turn = make(chan struct{}, 1) })
	select {
	case r.turn <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-r.turn }()
	if r.gaveUp.After(waitFrom) {
		return false, r.gaveUpErr // retried for this caller already
	}
	deadline := time.Now().Add(r.Timeout)
	var bo Backoff
	for {
		// An attempt that hangs (a server that accepts connections and
		// says nothing) ends with the retry window too.
		actx, cancel := context.WithDeadline(ctx, deadline)
		err := try(actx)
		cancel()
		if err == nil {
			return r.down.Swap(false), nil
		}
		if !retryable(err) && ctx.Err() == nil && time.Now().Before(deadline) {
			// The server answered (a refused login, say): it is up.
			r.down.Store(false)
			return false, err
		}
		d := bo.Next()
		if time.Now().Add(d).After(deadline) {
			r.gaveUp, r.gaveUpErr = time.Now(), giveUp(err)
			return false, r.gaveUpErr
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				// The caller's own bound came first: it still learns why.
				return false, giveUp(err)
			}
			return false, ctx.Err()
		case <-time.After(d):
		}
	}
}

// Lifetime is d give or take a tenth, at random: the lifetime of one
// server connection, so that connections opened together (at start, after
// a restart) are not all recycled at once.
func Lifetime(d time.Duration) time.Duration {
	return d - d/10 + time.Duration(rand.Int64N(int64(d/5)+1))
}
