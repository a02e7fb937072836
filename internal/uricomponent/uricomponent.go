// Package uricomponent escapes strings exactly like JavaScript's
// encodeURIComponent, the encoding of cookie values written by the
// PocketBase JS SDK (pb_auth) and by PocketPages' "cookie" package.
//
// Go has no equivalent: url.QueryEscape writes a space as "+" (which
// decodeURIComponent leaves as "+") and url.PathEscape keeps characters such
// as ":", "@", "&" and "=" that encodeURIComponent escapes. Decoding needs no
// helper: url.PathUnescape reads what Encode writes.
package uricomponent

import "strings"

// unreserved are the characters encodeURIComponent keeps besides ASCII
// letters and digits.
const unreserved = "-_.!~*'()"

// kept marks the bytes Encode writes as they are (a table: sliding cookie
// sessions encode a whole cookie on a renewal).
var kept = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(unreserved, byte(c)) >= 0
	}
	return t
}()

// Encode returns s with every byte escaped as %XX (upper-case hex) except
// A-Z a-z 0-9 - _ . ! ~ * ' ( ). For valid UTF-8 this is byte for byte
// encodeURIComponent's output.
func Encode(s string) string {
	var b strings.Builder
	b.Grow(Len(s))
	Write(&b, s)
	return b.String()
}

// Write writes Encode(s) to b, for output built from several pieces.
func Write(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if kept[c] {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
}

// Len is len(Encode(s)), without encoding.
func Len(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if !kept[s[i]] {
			n += 2
		}
	}
	return n
}
