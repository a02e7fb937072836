package e2e

import (
	"strings"
	"testing"
)

// a11yAudit is a small, dependency-free check run in the page: the basics
// an automated audit would flag first. It returns one line per problem.
const a11yAudit = `(() => {
  const problems = [];
  if (!document.documentElement.lang) problems.push('html has no lang');
  if (!document.title.trim()) problems.push('empty <title>');
  const h1 = document.querySelectorAll('h1').length;
  if (h1 !== 1) problems.push(h1 + ' <h1> elements, want 1');
  if (!document.querySelector('main#main')) problems.push('no <main id="main"> for the skip link');
  for (const el of document.querySelectorAll('input:not([type=hidden]), textarea, select')) {
    const named = (el.labels && el.labels.length) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
    if (!named) problems.push('unlabelled ' + el.tagName.toLowerCase() + ' ' + (el.name || el.id));
  }
  for (const el of document.querySelectorAll('button, a[href]')) {
    if (!(el.textContent || el.getAttribute('aria-label') || '').trim()) problems.push('no accessible name: ' + el.outerHTML.slice(0, 80));
  }
  for (const el of document.querySelectorAll('[aria-describedby]')) {
    for (const id of el.getAttribute('aria-describedby').split(/\s+/)) {
      if (!document.getElementById(id)) problems.push('aria-describedby points at missing #' + id);
    }
  }
  const ids = {};
  for (const el of document.querySelectorAll('[id]')) {
    if (ids[el.id]) problems.push('duplicate id ' + el.id);
    ids[el.id] = true;
  }
  for (const el of document.querySelectorAll('img:not([alt]), svg:not([aria-hidden="true"]):not([role="img"])')) {
    problems.push('image without alt/role: ' + el.outerHTML.slice(0, 60));
  }
  return problems.join('\n');
})()`

// TestPagesPassBasicAccessibilityChecks runs the audit on every page a
// guest sees, with and without errors on them.
func TestPagesPassBasicAccessibilityChecks(t *testing.T) {
	s := requireEnv(t)
	p := newVisitor(t, s)
	audit := func(what string) {
		t.Helper()
		if problems := p.eval(a11yAudit); problems != "" {
			t.Errorf("%s (%s):\n%s", what, p.path(), problems)
		}
	}

	p.open("/")
	audit("home, new visitor")
	p.open("/checkout")
	audit("checkout choice, new visitor")
	p.open("/login")
	audit("sign-in page")
	p.addToCart("field-notebook")
	audit("home, guest with banner")
	p.open("/cart")
	audit("cart")
	p.open("/checkout?step=details")
	audit("checkout form")
	p.submit(`[data-testid="place-order"]`)
	audit("checkout form with errors")
	if p.count(`[aria-invalid="true"]`) == 0 {
		t.Error("checkout errors are not marked aria-invalid")
	}
	p.open("/account")
	audit("account, guest")
	p.open("/orders")
	audit("orders")
	p.checkoutAsGuest("Ada", "ada@example.org", "12 Analytical Way")
	audit("order confirmation")
	p.open("/save-by-code")
	audit("save by code, email form")
	p.open("/save-by-code?otpId=x&code=123")
	audit("save by code, code form")
	if got := p.eval(`getComputedStyle(document.querySelector('.skip-link')).position`); !strings.Contains(got, "absolute") {
		t.Errorf("skip link position %q, want it off-screen until focused", got)
	}
}
