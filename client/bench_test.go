package client

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/dasha-exporter/dasha_exporter/internal/fakeapi"
)

var bnSizes = []int{1000, 10000, 100000}

// BenchmarkList measures one listing (fetch and decode of every page, the
// checks, de-duplication) through the real client. Later listings guess
// the page count from the one before, as in a running exporter.
func BenchmarkList(b *testing.B) {
	for _, n := range bnSizes {
		b.Run(fmt.Sprintf("numbers=%d", n), func(b *testing.B) {
			pages := fakeapi.NewPages(fakeapi.Fleet(n, time.Now()), 1000)
			u, _ := url.Parse("http://fake.invalid")
			c, err := New(Config{BaseURL: u, Key: StaticKey("k"), PageSize: 1000, Concurrency: 4, HTTPClient: &http.Client{Transport: pages}})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.List(b.Context()); err != nil { // learn the page count
				b.Fatal(err)
			}
			b.SetBytes(pages.Bytes())
			b.ReportAllocs()
			for b.Loop() {
				l, err := c.List(b.Context())
				if err != nil || l.Len() != n {
					b.Fatalf("listing: %v", err)
				}
			}
		})
	}
}

// BenchmarkDecodePage measures decoding one full page of 1000 numbers.
func BenchmarkDecodePage(b *testing.B) {
	body := fakeapi.NewPages(fakeapi.Fleet(1000, time.Now()), 1000).Page(0)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodePage(bytes.NewReader(body), -1, 1000, "k"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListRandomIDs lists 100,000 numbers with random uuids, as a real
// fleet has, and reports what the listing holds per number.
func BenchmarkListRandomIDs(b *testing.B) {
	const n = 100000
	pages := fakeapi.NewPages(fakeapi.RandomIDs(fakeapi.Fleet(n, time.Now()), 1), 1000)
	u, _ := url.Parse("http://fake.invalid")
	c, err := New(Config{BaseURL: u, Key: StaticKey("k"), PageSize: 1000, Concurrency: 4, HTTPClient: &http.Client{Transport: pages}})
	if err != nil {
		b.Fatal(err)
	}
	var l *Listing
	b.SetBytes(pages.Bytes())
	b.ReportAllocs()
	for b.Loop() {
		if l, err = c.List(b.Context()); err != nil || l.Len() != n {
			b.Fatalf("listing: %v", err)
		}
	}
	b.ReportMetric(float64(listingBytes(l))/n, "listing-B/number")
}

// listingBytes is the memory a listing holds: its records, texts and
// shared values.
func listingBytes(l *Listing) int {
	size := 0
	for _, bl := range l.blocks {
		size += cap(bl.recs)*int(unsafe.Sizeof(record{})) + cap(bl.texts) + cap(bl.shared)*int(unsafe.Sizeof(span{}))
	}
	return size + cap(l.blocks)*8 + cap(l.starts)*8
}

// BenchmarkRedactText redacts a key echoed with escapes in a 4 KiB text,
// the size of a long API error.
func BenchmarkRedactText(b *testing.B) {
	text := strings.Repeat(`{"message":"invalid key test\u002Bkey\/0123 and some more words \n here"} `, 60)
	key := "test+key/0123456789ABCDEF"
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		RedactText(text, key)
	}
}
