package store

import (
	"encoding/json"
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/wasmlet/wasmlet/api"
)

// undeletableNamespaces are the namespaces Kubernetes refuses to delete.
var undeletableNamespaces = map[string]bool{"default": true, "kube-system": true, "kube-public": true}

// namespaceState is what the store reads of a namespace.
type namespaceState struct {
	Metadata struct {
		DeletionTimestamp *api.Time `json:"deletionTimestamp"`
	} `json:"metadata"`
	Status struct {
		Phase string `json:"phase"`
	} `json:"status"`
}

func (n *namespaceState) terminating() bool {
	return n.Metadata.DeletionTimestamp != nil || n.Status.Phase == "Terminating"
}

// checkNamespace refuses new content in a namespace that does not exist or
// is being deleted (Kubernetes' NamespaceLifecycle admission).
func (w *txnWriter) checkNamespace(r *api.ResourceInfo, namespace, name string) error {
	nsr, ok := namespaceKind()
	if !ok {
		return nil
	}
	item, err := w.txn.Get(keyOf(nsr, "", namespace))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return api.NewNotFound("", "namespaces", namespace)
	}
	if err != nil {
		return err
	}
	var st namespaceState
	if err := item.Value(func(v []byte) error { return json.Unmarshal(v, &st) }); err != nil {
		return fmt.Errorf("reading namespace %q: %w", namespace, err)
	}
	if st.terminating() {
		return forbidden(r, name, fmt.Sprintf("unable to create new content in namespace %s because it is being terminated", namespace))
	}
	return nil
}

// withNamespaceDefaults gives a namespace what Kubernetes' namespace
// strategy does: the "kubernetes" finalizer in spec and phase Active,
// unless it is being deleted.
func withNamespaceDefaults(r *api.ResourceInfo, obj api.Object) (api.Object, error) {
	m, err := topLevel(obj)
	if err != nil {
		return nil, err
	}
	var spec map[string]any
	if raw, ok := m["spec"]; ok {
		_ = json.Unmarshal(raw, &spec)
	}
	if spec == nil {
		spec = map[string]any{}
	}
	if _, ok := spec["finalizers"]; !ok {
		spec["finalizers"] = []string{"kubernetes"}
	}
	var status map[string]any
	if raw, ok := m["status"]; ok {
		_ = json.Unmarshal(raw, &status)
	}
	if status == nil {
		status = map[string]any{}
	}
	phase := "Active"
	if obj.GetObjectMeta().DeletionTimestamp != nil {
		phase = "Terminating"
	}
	status["phase"] = phase
	m["spec"], _ = json.Marshal(spec)
	m["status"], _ = json.Marshal(status)
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, api.NewInternalError(err)
	}
	return decode(r, raw)
}

// ensureNamespace creates namespace name unless it exists.
func (s *Store) ensureNamespace(name string) error {
	nsr, ok := namespaceKind()
	if !ok {
		return nil
	}
	return s.writeTxn(func(w *txnWriter) error {
		ok, err := w.exists(keyOf(nsr, "", name))
		if err != nil || ok {
			return err
		}
		obj := nsr.New()
		obj.GetObjectMeta().Name = name
		_, err = w.create(nsr, obj)
		return err
	})
}

// deleteNamespace marks the namespace Terminating, deletes what is in it,
// and removes it once it is empty.
func (s *Store) deleteNamespace(r *api.ResourceInfo, name string, opts DeleteOptions) (api.Object, bool, error) {
	if undeletableNamespaces[name] {
		return nil, false, forbidden(r, name, "this namespace may not be deleted")
	}
	var out api.Object
	err := s.writeTxn(func(w *txnWriter) error {
		cur, curRaw, err := getObject(w.s.reads, w.txn, r, "", name)
		if err != nil {
			return err
		}
		if err := checkPreconditions(r, cur, opts); err != nil {
			return err
		}
		if err := checkPropagation(opts.PropagationPolicy); err != nil {
			return err
		}
		next := cur.DeepCopyObject()
		nm := next.GetObjectMeta()
		if nm.DeletionTimestamp != nil {
			out = cur
			return nil
		}
		nm.DeletionTimestamp = api.NewTimePtr(s.now())
		zero := int64(0)
		nm.DeletionGracePeriodSeconds = &zero
		if next, err = withNamespaceDefaults(r, next); err != nil {
			return err
		}
		out, err = w.putIfChanged(r, next, cur, curRaw)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	if err := s.purgeNamespace(name); err != nil {
		return nil, false, err
	}
	gone := false
	err = s.view(func(txn *badger.Txn) error {
		_, _, err := getObject(s.reads, txn, r, "", name)
		if api.IsNotFound(err) {
			gone, err = true, nil
		}
		return err
	})
	return out, gone, storageError(err)
}

// purgeNamespace deletes every object in the namespace, one write each,
// as the namespace controller does, and removes the namespace if that
// left it empty.
func (s *Store) purgeNamespace(namespace string) error {
	for _, r := range kinds.all() {
		if !r.Namespaced {
			continue
		}
		var names []string
		err := s.view(func(txn *badger.Txn) error {
			prefix := prefixOf(r, namespace)
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				names = append(names, string(it.Item().Key()[len(prefix):]))
			}
			return s.reads.checkPrefix(prefix)
		})
		if err != nil {
			return storageError(err)
		}
		for _, name := range names {
			err := s.writeTxn(func(w *txnWriter) error {
				_, _, err := w.delete(r, namespace, name, DeleteOptions{})
				return err
			})
			if err != nil && !api.IsNotFound(err) {
				return fmt.Errorf("deleting %s %s/%s of a deleted namespace: %w", r.GroupResource(), namespace, name, err)
			}
		}
	}
	return s.writeTxn(func(w *txnWriter) error {
		w.touched = map[string]bool{namespace: true}
		return nil
	})
}

// finishNamespaces removes the Terminating namespaces this write emptied.
func (w *txnWriter) finishNamespaces() error {
	if len(w.touched) == 0 {
		return nil
	}
	nsr, ok := namespaceKind()
	if !ok {
		return nil
	}
	for ns := range w.touched {
		cur, _, err := getObject(w.s.reads, w.txn, nsr, "", ns)
		if api.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if m := cur.GetObjectMeta(); m.DeletionTimestamp == nil || len(m.Finalizers) > 0 {
			continue
		}
		empty, err := w.namespaceEmpty(ns)
		if err != nil {
			return err
		}
		if empty {
			if _, err := w.remove(nsr, cur); err != nil {
				return err
			}
		}
	}
	w.touched = nil
	return nil
}

// namespaceEmpty reports whether no object of a known kind is left in ns,
// counting this transaction's own writes.
func (w *txnWriter) namespaceEmpty(ns string) (bool, error) {
	for _, r := range kinds.all() {
		if !r.Namespaced {
			continue
		}
		prefix := prefixOf(r, ns)
		it := w.txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		it.Rewind()
		found := it.Valid()
		it.Close()
		if found {
			return false, nil
		}
		if err := w.s.reads.checkPrefix(prefix); err != nil {
			return false, err
		}
	}
	return true, nil
}

// resumeNamespaceDeletions finishes the deletions of namespaces that a
// stop interrupted.
func (s *Store) resumeNamespaceDeletions() error {
	nsr, ok := namespaceKind()
	if !ok {
		return nil
	}
	var terminating []string
	err := s.view(func(txn *badger.Txn) error {
		objs, err := listObjects(s.reads, txn, nsr, "", ListOptions{})
		for _, o := range objs {
			if o.GetObjectMeta().DeletionTimestamp != nil {
				terminating = append(terminating, o.GetObjectMeta().Name)
			}
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("store: listing namespaces: %w", err)
	}
	for _, ns := range terminating {
		if err := s.purgeNamespace(ns); err != nil {
			return fmt.Errorf("store: resuming the deletion of namespace %s: %w", ns, err)
		}
	}
	return nil
}
