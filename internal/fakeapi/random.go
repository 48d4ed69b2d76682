package fakeapi

import (
	"fmt"
	"math/rand/v2"
)

// RandomIDs gives every number of numbers a random uuid as its id and
// credentials, as a real fleet has; seed makes the fleet repeatable. Fleet's
// sequential ids share long runs of digits that gzip and the exporter's
// buffers see as repeats; random ones are the harder case (issue 13).
func RandomIDs(numbers []Number, seed uint64) []Number {
	rng := rand.New(rand.NewPCG(seed, seed))
	for i := range numbers {
		numbers[i].ID = randomUUID(rng)
		if numbers[i].CredentialsID != nil {
			numbers[i].CredentialsID = Ptr(randomUUID(rng))
		}
	}
	return numbers
}

// randomUUID returns a version 4 uuid drawn from rng.
func randomUUID(rng *rand.Rand) string {
	a, b := rng.Uint64(), rng.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, a>>16&0xffff, a&0xfff, b>>48&0x3fff|0x8000, b&0xffffffffffff)
}
