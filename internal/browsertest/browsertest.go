// Package browsertest drives the daemon's pages in a real headless
// Chromium for tests, and waits on what the user sees, never on time.
package browsertest

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// New starts headless Chromium for a test, with any extra options, and
// returns its context; it is closed when the test ends.
func New(t testing.TB, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("the browser tests need Chromium: apt-get install -y chromium (.ci/run installs it)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// Start the browser now, so its start-up does not eat a step's time.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// Step runs actions within a minute, or fails the test with what and the
// page as it stands.
func Step(t testing.TB, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, PageHTML(ctx))
	}
}

// PageHTML is the page's main element, for a failure's message.
func PageHTML(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	html, _ := chromedp.Run(ctx, chromedp.OuterHTML("main"))
	return html
}

// WaitText waits until the element's text, as the user sees it (CSS may
// upper-case it), contains want.
func WaitText(sel, want string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		for {
			got, err := chromedp.Text(sel)(ctx, tg)
			if err == nil && strings.Contains(strings.ToLower(got), strings.ToLower(want)) {
				return chromedp.Void{}, nil
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, fmt.Errorf("waiting for %q in %s (last %q): %w", want, sel, got, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// WaitJS waits until the page's expression is true; it reads the page
// afresh each time, as the user sees it, across reloads. In expr, $ is
// document.querySelector.
func WaitJS(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		for {
			ok, err := chromedp.Evaluate[bool]("(() => { const $ = (s) => document.querySelector(s); try { return !!("+expr+"); } catch (e) { return false; } })()")(ctx, tg)
			if err == nil && ok {
				return chromedp.Void{}, nil
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, fmt.Errorf("waiting for %s: %w", expr, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}
