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

// Encode returns s with every byte escaped as %XX (upper-case hex) except
// A-Z a-z 0-9 - _ . ! ~ * ' ( ). For valid UTF-8 this is byte for byte
// encodeURIComponent's output.
func Encode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(unreserved, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
