package api

import "time"

// NodeImageList is what a node answers to GET
// /api/v1/nodes/{name}/proxy/images: the registry images it holds, with
// what status.images has no field for (when each was pulled and last
// used). It is the node's own answer, as a kubelet's /pods is, not an
// object of the API.
type NodeImageList struct {
	TypeMeta `json:",inline"`
	Items    []NodeImage `json:"items"`
}

// NodeImage is one image of a node: its names as status.images lists
// them (repo@digest, then each repo:tag), its size, and the times the
// node's image garbage collection orders it by.
type NodeImage struct {
	Names     []string  `json:"names"`
	SizeBytes int64     `json:"sizeBytes,omitempty"`
	Pulled    time.Time `json:"pulled,omitempty"`
	LastUsed  time.Time `json:"lastUsed,omitempty"`
}
