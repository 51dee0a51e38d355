package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/xconnproxy/xconnproxy/internal/pgcode"
	"github.com/xconnproxy/xconnproxy/routing"
)

// check prints every connection section found, where it came from, and
// whether its backend opens; it returns exitFailed if any does not.
func check(ctx context.Context, reg *routing.Registry, out io.Writer) int {
	cfg := reg.Config()
	fmt.Fprintln(out, "Secrets files searched:")
	loaded := map[string]bool{}
	for _, f := range cfg.Loaded {
		loaded[f] = true
	}
	for _, f := range cfg.Files {
		state := "not found"
		if loaded[f] {
			state = "read"
		}
		fmt.Fprintf(out, "  %s (%s)\n", f, state)
	}
	fmt.Fprintln(out)

	failed := 0
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CONNECTION\tDIALECT\tHOST\tDATABASE\tFROM\tSTATUS")
	for _, name := range cfg.Names() {
		if err, bad := cfg.Invalid[name]; bad {
			failed++
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\tERROR: %s\n", name, oneLine(err.Error()))
			continue
		}
		c := cfg.Connections[name]
		status := "ok"
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		b, err := reg.Backend(cctx, c)
		if err == nil {
			var desc string
			if desc, err = b.Describe(cctx); err == nil {
				status = "ok: " + desc
			}
		}
		cancel()
		if err != nil {
			failed++
			status = "ERROR: " + oneLine(pgcode.From(err).Message)
		}
		host := c.Host
		if c.Port != 0 {
			host = fmt.Sprintf("%s:%d", host, c.Port)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", name, c.Dialect, dash(host), dash(c.Database),
			strings.Join(c.Sources, ", "), status)
	}
	tw.Flush()

	if len(cfg.Routes) > 0 {
		fmt.Fprintln(out, "\nRoutes ([xconnproxy.routes]):")
		names := make([]string, 0, len(cfg.Routes))
		for n := range cfg.Routes {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			target := "connection " + n
			if c, err := reg.Resolve(n); err == nil {
				target = "connection " + c.Name
			} else {
				failed++
				target = "ERROR: " + routeError(err)
			}
			fmt.Fprintf(out, "  %s -> %s => %s\n", n, cfg.Routes[n], target)
		}
	}
	fmt.Fprintf(out, "\n%d connection(s), %d route(s), %d failed\n", len(cfg.Names()), len(cfg.Routes), failed)
	if failed > 0 {
		return exitFailed
	}
	return exitOK
}

func routeError(err error) string {
	pe := pgcode.From(err)
	if pe.Hint != "" {
		return pe.Message + " (" + strings.SplitN(pe.Hint, ";", 2)[0] + ")"
	}
	return pe.Message
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// oneLine keeps a multi-line error (pgconn lists each address it tried) on
// the table's row.
func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}
