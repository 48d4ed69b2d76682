package accounts

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// blockEmitter writes a struct of yaml-tagged fields as block YAML in one
// pass, as yaml.v3 would write it (the same names, omitempty and flow
// options, Marshaler values), with a comment at the end of a line where
// asked. yaml.v3 itself took 1.1 s and 725 MB to write 10,000 accounts:
// its emitter queues every event of the document. This one writes only
// what the views hold (strings, whole numbers, booleans, lists of
// strings, nested structs, Marshalers returning strings) and fails on
// anything else, so a new kind of field is noticed by the tests.
type blockEmitter struct {
	b      bytes.Buffer
	fields map[reflect.Type][]tagged // each view's tags, read once
}

// tagged is a struct field's yaml tag.
type tagged struct {
	name            string
	omitempty, flow bool
}

func (e *blockEmitter) tags(t reflect.Type) []tagged {
	if tags, ok := e.fields[t]; ok {
		return tags
	}
	tags := make([]tagged, t.NumField())
	for i := range tags {
		name, opts, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		tags[i] = tagged{name: name, omitempty: strings.Contains(opts, "omitempty"), flow: strings.Contains(opts, "flow")}
	}
	if e.fields == nil {
		e.fields = map[reflect.Type][]tagged{}
	}
	e.fields[t] = tags
	return tags
}

// mapping writes v's fields at indent; comments are by YAML name.
func (e *blockEmitter) mapping(v reflect.Value, indent int, comments map[string]string) error {
	for i, tag := range e.tags(v.Type()) {
		fv := v.Field(i)
		if tag.omitempty && fv.IsZero() {
			continue
		}
		name := tag.name
		e.b.WriteString(strings.Repeat(" ", indent))
		e.b.WriteString(plainOrQuoted(name))
		e.b.WriteByte(':')
		if err := e.value(fv, indent, tag.flow); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if c := comments[name]; c != "" {
			e.b.WriteString(" # ")
			e.b.WriteString(strings.ReplaceAll(c, "\n", " "))
		}
		e.b.WriteByte('\n')
	}
	return nil
}

var marshalerType = reflect.TypeFor[yaml.Marshaler]()

// value writes what follows "name:" on its line: " scalar", " [a, b]", or
// nothing for a nested mapping, which follows on the next lines.
func (e *blockEmitter) value(v reflect.Value, indent int, flow bool) error {
	if v.Type().Implements(marshalerType) {
		out, err := v.Interface().(yaml.Marshaler).MarshalYAML()
		if err != nil {
			return err
		}
		s, ok := out.(string)
		if !ok {
			return fmt.Errorf("a %T from MarshalYAML, not a string", out)
		}
		v = reflect.ValueOf(s)
	}
	switch v.Kind() {
	case reflect.String:
		e.b.WriteByte(' ')
		e.b.WriteString(plainOrQuoted(v.String()))
	case reflect.Bool:
		e.b.WriteByte(' ')
		e.b.WriteString(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.b.WriteByte(' ')
		e.b.WriteString(strconv.FormatInt(v.Int(), 10))
	case reflect.Slice:
		if !flow || v.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("only flow lists of strings are written, not %s", v.Type())
		}
		e.b.WriteString(" [")
		for i := range v.Len() {
			if i > 0 {
				e.b.WriteString(", ")
			}
			item := v.Index(i).String()
			if strings.Contains(item, ":") {
				// libyaml refuses some colons in flow context.
				e.b.WriteString(quoted(item))
			} else {
				e.b.WriteString(plainOrQuoted(item))
			}
		}
		e.b.WriteByte(']')
	case reflect.Pointer:
		if v.IsNil() {
			e.b.WriteString(" null")
			return nil
		}
		return e.value(v.Elem(), indent, flow)
	case reflect.Struct:
		e.b.WriteByte('\n')
		n := e.b.Len()
		if err := e.mapping(v, indent+2, nil); err != nil {
			return err
		}
		// mapping ended with its own newline; the caller writes one.
		if e.b.Len() > n {
			e.b.Truncate(e.b.Len() - 1)
		} else {
			e.b.Truncate(n - 1)
			e.b.WriteString(" {}")
		}
	default:
		return fmt.Errorf("a field of kind %s is not written", v.Kind())
	}
	return nil
}

// plainOrQuoted writes s plain when YAML reads it back as the same string,
// else double-quoted.
func plainOrQuoted(s string) string {
	if isPlain(s) || isDuration(s) {
		return s
	}
	return quoted(s)
}

// isPlain reports whether s reads back as itself when written without
// quotes, in block and flow context alike: it starts with a letter or /,
// holds only letters, digits and _ . / : + -, does not end with a colon,
// and is no word YAML 1.1 or 1.2 reads as a boolean or null.
func isPlain(s string) bool {
	if s == "" || !(isLetter(s[0]) || s[0] == '/') || s[len(s)-1] == ':' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isLetter(c) && !('0' <= c && c <= '9') && !strings.ContainsRune("_./:+-", rune(c)) {
			return false
		}
	}
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "y", "n", "on", "off", "null":
		return false
	}
	return true
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// isDuration reports whether s is a Go duration with its unit ("10s",
// "1m30s", "500ms"): never a YAML number, which ends with a digit.
func isDuration(s string) bool {
	_, err := time.ParseDuration(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	return err == nil && unicode.IsLetter(last) // µs ends with s too; "0" is a duration
}

// quoted double-quotes s. Go's quoting of valid UTF-8 is a valid YAML
// double-quoted scalar (\a \b \t \n \v \f \r \" \\ \xXX \uXXXX \UXXXXXXXX
// are all YAML escapes of the same characters); invalid UTF-8 is replaced.
func quoted(s string) string {
	return strconv.Quote(strings.ToValidUTF8(s, string(utf8.RuneError)))
}
