package landing

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dasha-exporter/dasha_exporter/internal/testtools"
)

// TestPageInBrowser opens the landing page in headless Chromium (Debian's
// chromium, driven by chromedp): the table lists the accounts, the failed
// account shows its error as text (the API's markup runs nowhere), and the
// links answer.
func TestPageInBrowser(t *testing.T) {
	chromium := testtools.Find(t, "chromium", "chromium-browser")
	srv := site(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		// The machine has no network but loopback: no background calls.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()

	type rowView struct {
		Name, Where, Result, Numbers, Probe, Debug string
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("accounts")),
	); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[[]rowView](`[...document.querySelectorAll("tr.account")].map(r => ({
		Name: r.dataset.account,
		Where: r.querySelector(".where").innerText,
		Result: r.querySelector(".result").innerText,
		Numbers: r.querySelector(".numbers").innerText,
		Probe: (r.querySelector("a.probe") || {}).href || "",
		Debug: (r.querySelector("a.debug") || {}).href || "",
	}))`))
	if err != nil {
		t.Fatalf("reading the table: %v", err)
	}
	scripts, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("script").length`))
	if err != nil {
		t.Fatal(err)
	}
	xssRan, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__xss !== undefined`))
	if err != nil {
		t.Fatal(err)
	}
	links, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#links a")].map(a => a.href)`))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]rowView{}
	for _, r := range rows {
		byName[r.Name] = r
	}
	if len(rows) != 3 || byName["ok"].Name == "" || byName["broken"].Name == "" || byName["nokey"].Name == "" {
		t.Fatalf("the table lists %+v, want ok, broken and nokey", rows)
	}
	if r := byName["ok"]; !strings.Contains(r.Result, "complete") || r.Numbers != "40" {
		t.Errorf("ok account shows %+v, want complete with 40 numbers", r)
	}
	if r := byName["broken"]; !strings.Contains(r.Result, "failed") || !strings.Contains(r.Result, "<script>window.__xss=1</script>") || !strings.Contains(r.Result, "403") {
		t.Errorf("broken account shows %q, want its 403 error with the API's text shown as text", r.Result)
	}
	if r := byName["nokey"]; !strings.Contains(r.Result, "no key") || !strings.Contains(r.Where, "blackbox.ru.dasha.ai") {
		t.Errorf("nokey account shows %+v", r)
	}
	if scripts != 0 || xssRan {
		t.Errorf("markup from the API ran in the page: %d script elements, injected code ran: %v", scripts, xssRan)
	}
	if len(links) != 3 {
		t.Errorf("header links %q, want Metrics, Health, Readiness", links)
	}
	for _, l := range links {
		resp, err := http.Get(l)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("link %s: %v %v", l, err, resp)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}

	// Follow the links the way a person would: click them.
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`tr[data-account="ok"] a.probe`))); err != nil {
		t.Fatalf("clicking the probe link: %v", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "dasha_up 1") || !strings.Contains(text, "dasha_sip_phone_numbers 40") {
		t.Errorf("the probe link of ok answers:\n%.500s", text)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("accounts"))); err != nil {
		t.Fatalf("back to the landing page: %v", err)
	}
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`tr[data-account="broken"] a.debug`))); err != nil {
		t.Fatalf("clicking the debug link: %v", err)
	}
	if text, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body"))); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, `Probe of account "broken"`) || !strings.Contains(text, "status=403") || !strings.Contains(text, "dasha_up 0") || strings.Contains(text, "good-key") {
		t.Errorf("the debug link of broken answers:\n%.2000s", text)
	}

	// The failing numbers of ok, as a person reads them: name and number,
	// state, error, SIP answer, since, and a runbook link.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("account-ok"))); err != nil {
		t.Fatalf("back to the landing page: %v", err)
	}
	type failingView struct{ Number, State, Error, SIP, Since, Runbook, Section string }
	failing, err := chromedp.Run(ctx, chromedp.Evaluate[[]failingView](`[...document.querySelectorAll("#account-ok tr.failing-number")].map(r => ({
		Number: r.querySelector(".number").innerText,
		State: r.querySelector(".state").innerText,
		Error: r.querySelector(".error").innerText,
		SIP: r.querySelector(".sip").innerText,
		Since: r.querySelector(".since").innerText,
		Runbook: r.querySelector("a.runbook").href,
		Section: r.querySelector("a.runbook").innerText,
	}))`))
	if err != nil {
		t.Fatal(err)
	}
	if len(failing) != 3 {
		t.Fatalf("the page shows %d failing numbers of ok, want 3: %+v", len(failing), failing)
	}
	if f := failing[0]; f.Number != "line 0 +14150000000" || f.State != "Failed" || !strings.Contains(f.Error, "authentication failed") || f.SIP != "SIP/2.0 403 Forbidden" ||
		!strings.HasSuffix(f.Since, "UTC") || f.Section != "Failing" || !strings.HasSuffix(f.Runbook, "/docs/runbook.md#dashasipregistrationfailing") {
		t.Errorf("the first failing number reads %+v", f)
	}

	// A person clicks broken's log link: the stored log of that listing.
	if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`#account-broken a.log`))); err != nil {
		t.Fatalf("clicking the log link: %v", err)
	}
	if text, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body"))); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, `of account "broken"`) || !strings.Contains(text, "Failed: ") || !strings.Contains(text, "status=403") || strings.Contains(text, "dasha_up") || strings.Contains(text, "good-key") {
		t.Errorf("the log link of broken answers:\n%.2000s", text)
	}
}
