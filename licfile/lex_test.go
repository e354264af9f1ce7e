package licfile

import (
	"reflect"
	"testing"
)

func TestSplitLines(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []logicalLine
	}{
		{"empty", "", nil},
		{"comments and blanks", "# c\n\n  \t\n  # indented comment\nUSE_SERVER\n", []logicalLine{{5, "USE_SERVER"}}},
		{"no final newline", "A b", []logicalLine{{1, "A b"}}},
		{"continuation", "A b \\\n\tc d\nE\n", []logicalLine{{1, "A b c d"}, {3, "E"}}},
		{"blanks after backslash", "A b \\ \t \n  c\n", []logicalLine{{1, "A b c"}}},
		{"crlf", "A b \\\r\n c\r\nD\r\n", []logicalLine{{1, "A b c"}, {3, "D"}}},
		{"continued quote", "A S=\"12 \\\n\t34\"\n", []logicalLine{{1, `A S="12 34"`}}},
		{"continuation keeps line of first", "\n\nA \\\nb \\\nc\nD", []logicalLine{{3, "A b c"}, {6, "D"}}},
		{"backslash at end of file", "A \\", []logicalLine{{1, "A"}}},
		{"comment line is not continued", "# c \\\nA\n", []logicalLine{{2, "A"}}},
		{"blank line ends continuation", "A \\\n\nB\n", []logicalLine{{1, "A"}, {3, "B"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := splitLines([]byte(tt.in)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("splitLines(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestTokenize(t *testing.T) {
	tests := []struct {
		in      string
		want    []token
		wantErr bool
	}{
		{"A b", []token{{text: "A"}, {text: "b"}}, false},
		{"K=v", []token{{text: "K=v", key: "K", value: "v", hasEq: true}}, false},
		{`NOTICE="a b"`, []token{{text: "NOTICE=a b", key: "NOTICE", value: "a b", hasEq: true, quoted: true}}, false},
		{"NOTICE=product=MATLAB", []token{{text: "NOTICE=product=MATLAB", key: "NOTICE", value: "product=MATLAB", hasEq: true}}, false},
		{`"a=b"`, []token{{text: "a=b", quoted: true}}, false},
		{`K=""`, []token{{text: "K=", key: "K", hasEq: true, quoted: true}}, false},
		{"A\tb  # trailing comment", []token{{text: "A"}, {text: "b"}}, false},
		{"A b#c", []token{{text: "A"}, {text: "b#c"}}, false},
		{`A "b # c"`, []token{{text: "A"}, {text: "b # c", quoted: true}}, false},
		{`A K="open`, []token{{text: "A"}}, true},
		{"", nil, false},
	}
	for _, tt := range tests {
		got, err := tokenize(tt.in, nil)
		if (err != nil) != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("tokenize(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
