package apilint

import (
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// node is a place in the document: its YAML node and its dotted path, for findings.
type node struct {
	n    *yaml.Node
	path string
}

func (x node) ok() bool { return x.n != nil }

func (x node) line() int {
	if x.n == nil {
		return 0
	}
	return x.n.Line
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// get looks key up in a mapping (exact match).
func (x node) get(key string) node {
	if x.n == nil || x.n.Kind != yaml.MappingNode {
		return node{path: join(x.path, key)}
	}
	for i := 0; i+1 < len(x.n.Content); i += 2 {
		if x.n.Content[i].Value == key {
			return node{n: x.n.Content[i+1], path: join(x.path, key)}
		}
	}
	return node{path: join(x.path, key)}
}

// entries lists a mapping's keys and values in document order.
func (x node) entries() []struct {
	key string
	val node
} {
	var out []struct {
		key string
		val node
	}
	if x.n == nil || x.n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(x.n.Content); i += 2 {
		k := x.n.Content[i].Value
		out = append(out, struct {
			key string
			val node
		}{k, node{n: x.n.Content[i+1], path: join(x.path, k)}})
	}
	return out
}

// items lists a sequence's elements.
func (x node) items() []node {
	if x.n == nil || x.n.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]node, len(x.n.Content))
	for i, c := range x.n.Content {
		out[i] = node{n: c, path: x.path + "[" + strconv.Itoa(i) + "]"}
	}
	return out
}

// str is a scalar's value ("" otherwise); a short-form tag (!Ref X) keeps its scalar.
func (x node) str() string {
	if x.n == nil || x.n.Kind != yaml.ScalarNode {
		return ""
	}
	return x.n.Value
}

// strs is a scalar as one value, or a sequence of scalars, or a comma-separated scalar.
func (x node) strs() []string {
	var out []string
	if x.n != nil && x.n.Kind == yaml.SequenceNode {
		for _, it := range x.items() {
			out = append(out, it.str())
		}
		return out
	}
	for _, s := range strings.Split(x.str(), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

var subRef = regexp.MustCompile(`\$\{([A-Za-z0-9]+)(?:\.[A-Za-z0-9.]+)?\}`)

// refs are the logical IDs the value refers to anywhere inside it: Ref, Fn::GetAtt (long and
// short form) and ${ID} or ${ID.Attr} in Fn::Sub strings.
func (x node) refs() []string {
	var out []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil {
			return
		}
		switch n.Tag {
		case "!Ref":
			out = append(out, n.Value)
		case "!GetAtt":
			if n.Kind == yaml.ScalarNode {
				out = append(out, strings.SplitN(n.Value, ".", 2)[0])
			} else if len(n.Content) > 0 {
				out = append(out, n.Content[0].Value)
			}
		case "!Sub":
			if n.Kind == yaml.ScalarNode {
				for _, m := range subRef.FindAllStringSubmatch(n.Value, -1) {
					out = append(out, m[1])
				}
			}
		}
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i].Value, n.Content[i+1]
				switch k {
				case "Ref":
					out = append(out, v.Value)
				case "Fn::GetAtt":
					if v.Kind == yaml.SequenceNode && len(v.Content) > 0 {
						out = append(out, v.Content[0].Value)
					} else {
						out = append(out, strings.SplitN(v.Value, ".", 2)[0])
					}
				case "Fn::Sub":
					s := v
					if v.Kind == yaml.SequenceNode && len(v.Content) > 0 {
						s = v.Content[0]
					}
					for _, m := range subRef.FindAllStringSubmatch(s.Value, -1) {
						out = append(out, m[1])
					}
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(x.n)
	return out
}
