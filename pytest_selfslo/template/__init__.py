"""The Go ``text/template`` subset Prometheus expands alert labels and annotations with."""
