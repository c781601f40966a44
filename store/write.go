package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/wasmlet/wasmlet/api"
)

// eventTTL is how long an event lives after its last write (Kubernetes'
// default --event-ttl).
const eventTTL = time.Hour

// txnWriter is one write: a badger transaction, the resourceVersions it
// hands out and the changes watchers will see once it commits.
type txnWriter struct {
	s       *Store
	txn     *badger.Txn
	rv      uint64
	changes []*change
	// touched are namespaces something was removed from; a Terminating one
	// that became empty is removed in the same transaction.
	touched map[string]bool
}

// writeTxn runs fn in a write transaction, under the write lock, and
// commits what it wrote together with the new resourceVersion. Nothing is
// written when fn fails or writes nothing. It is the node's own write:
// on a nearly full disk it may use the reserve.
func (s *Store) writeTxn(fn func(*txnWriter) error) error {
	return s.writeTxnAs(false, fn)
}

// writeTxnAs is writeTxn for an API client's write when client is set:
// refused first on a nearly full disk.
func (s *Store) writeTxnAs(client bool, fn func(*txnWriter) error) error {
	err := s.commitTxn(client, fn)
	s.notifyDiskPressure()
	return err
}

func (s *Store) commitTxn(client bool, fn func(*txnWriter) error) (err error) {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	s.mu.Lock()
	defer s.mu.Unlock()
	// A write reads first: a fault there is an error too (view).
	defer s.recoverRead(&err)
	defer faultsPanic()()
	txn := s.db.NewTransaction(true)
	defer txn.Discard()
	w := &txnWriter{s: s, txn: txn, rv: s.rv}
	if err := fn(w); err != nil {
		return storageError(err)
	}
	if err := w.finishNamespaces(); err != nil {
		return storageError(err)
	}
	if len(w.changes) == 0 {
		return nil
	}
	// Checked before every commit: what the commit writes is what badger
	// may fail to back (diskspace.go).
	if s.disk != nil {
		if err := s.disk.admit(client); err != nil {
			return err
		}
	}
	if err := txn.Set(rvKey, strconv.AppendUint(nil, w.rv, 10)); err != nil {
		return api.NewInternalError(fmt.Errorf("writing the resourceVersion: %w", err))
	}
	if err := txn.Commit(); err != nil {
		return api.NewInternalError(fmt.Errorf("committing resourceVersion %d: %w", w.rv, err))
	}
	s.rv = w.rv
	for _, c := range w.changes {
		s.publish(c)
	}
	return nil
}

// put writes obj (which the writer owns from now on) with the next
// resourceVersion; prevRaw is the stored state it replaces, nil for a
// create. It returns a copy of what was stored.
func (w *txnWriter) put(r *api.ResourceInfo, obj api.Object, prevRaw []byte) (api.Object, error) {
	rv := w.rv + 1
	m := obj.GetObjectMeta()
	m.ResourceVersion = strconv.FormatUint(rv, 10)
	raw, err := encode(r, obj)
	if err != nil {
		return nil, err
	}
	e := badger.NewEntry(keyOf(r, m.Namespace, m.Name), raw)
	if isEvents(r) {
		e = e.WithTTL(eventTTL)
	}
	if err := w.txn.SetEntry(e); err != nil {
		return nil, fmt.Errorf("writing %s %q: %w", r.GroupResource(), m.Name, err)
	}
	stored, err := decode(r, raw)
	if err != nil {
		return nil, err
	}
	w.rv = rv
	typ := Modified
	if prevRaw == nil {
		typ = Added
	}
	w.changes = append(w.changes, &change{rv: rv, typ: typ, res: r, obj: stored, prevRaw: prevRaw})
	return stored.DeepCopyObject(), nil
}

// remove deletes the object whose last state is last and returns a copy
// of it with the deletion's resourceVersion, as Kubernetes returns and
// watches show it.
func (w *txnWriter) remove(r *api.ResourceInfo, last api.Object) (api.Object, error) {
	gone := last.DeepCopyObject()
	m := gone.GetObjectMeta()
	if err := w.txn.Delete(keyOf(r, m.Namespace, m.Name)); err != nil {
		return nil, fmt.Errorf("deleting %s %q: %w", r.GroupResource(), m.Name, err)
	}
	w.rv++
	m.ResourceVersion = strconv.FormatUint(w.rv, 10)
	w.changes = append(w.changes, &change{rv: w.rv, typ: Deleted, res: r, obj: gone})
	if r.Namespaced {
		if w.touched == nil {
			w.touched = map[string]bool{}
		}
		w.touched[m.Namespace] = true
	}
	return gone.DeepCopyObject(), nil
}

// putIfChanged writes next unless it encodes to what is stored (cur,
// curRaw); then it returns cur.
func (w *txnWriter) putIfChanged(r *api.ResourceInfo, next, cur api.Object, curRaw []byte) (api.Object, error) {
	raw, err := encode(r, next)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(raw, curRaw) {
		return cur, nil
	}
	return w.put(r, next, curRaw)
}

// encode is the stored form of obj: its JSON with kind and apiVersion.
func encode(r *api.ResourceInfo, obj api.Object) ([]byte, error) {
	tm := obj.GetTypeMeta()
	tm.Kind, tm.APIVersion = r.Kind, r.APIVersion()
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, api.NewBadRequest(fmt.Sprintf("encoding %s %q: %v", r.GroupResource(), obj.GetObjectMeta().Name, err))
	}
	return raw, nil
}

func (w *txnWriter) exists(key []byte) (bool, error) {
	item, err := w.txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, w.s.reads.checkKey(key, 0)
	}
	if err != nil {
		return false, err
	}
	return true, w.s.reads.checkKey(key, item.Version())
}

// create stores in, a new object the writer owns.
func (w *txnWriter) create(r *api.ResourceInfo, in api.Object) (api.Object, error) {
	m := in.GetObjectMeta()
	if errs := validatePathNames(r, m); len(errs) > 0 {
		return nil, api.NewInvalid(r.Group, r.Kind, m.Name, errs)
	}
	ok, err := w.exists(keyOf(r, m.Namespace, m.Name))
	if err != nil {
		return nil, err
	}
	if ok {
		return nil, api.NewAlreadyExists(r.Group, r.Resource, m.Name)
	}
	if r.Namespaced {
		if err := w.checkNamespace(r, m.Namespace, m.Name); err != nil {
			return nil, err
		}
	}
	m.UID = newUID()
	m.CreationTimestamp = api.NewTime(w.s.now())
	m.Generation = 1
	m.DeletionTimestamp = nil
	m.DeletionGracePeriodSeconds = nil
	m.SelfLink = ""
	if isNamespaces(r) {
		if in, err = withNamespaceDefaults(r, in); err != nil {
			return nil, err
		}
	}
	return w.put(r, in, nil)
}

// validatePathNames rejects names that would break the key layout, with
// Kubernetes' path segment rule.
func validatePathNames(r *api.ResourceInfo, m *api.ObjectMeta) api.ErrorList {
	var errs api.ErrorList
	check := func(field, v string) {
		switch {
		case v == "." || v == "..":
			errs = append(errs, api.Invalid(field, v, "may not be '.' or '..'"))
		case strings.ContainsAny(v, "/%"):
			errs = append(errs, api.Invalid(field, v, "may not contain '/' or '%'"))
		}
	}
	check("metadata.name", m.Name)
	if r.Namespaced {
		check("metadata.namespace", m.Namespace)
	}
	return errs
}

// updateMode says which parts of an update's object are taken.
type updateMode int

const (
	updateSpec   updateMode = iota // spec and metadata; status as stored
	updateStatus                   // status only
	updateAll                      // spec, metadata and status
)

// update writes in over cur by the rules of mode and Update's metadata
// rules. It writes nothing when nothing changes.
func (w *txnWriter) update(r *api.ResourceInfo, cur api.Object, curRaw []byte, in api.Object, mode updateMode) (api.Object, error) {
	var (
		next api.Object
		err  error
	)
	switch mode {
	case updateSpec:
		next, err = withStatusOf(r, in, cur)
	case updateStatus:
		next, err = withStatusOf(r, cur, in)
	default:
		next = in
	}
	if err != nil {
		return nil, err
	}
	cm, nm := cur.GetObjectMeta(), next.GetObjectMeta()
	nm.Name, nm.Namespace = cm.Name, cm.Namespace
	nm.UID = cm.UID
	nm.CreationTimestamp = cm.CreationTimestamp
	nm.DeletionTimestamp = cm.DeletionTimestamp
	nm.DeletionGracePeriodSeconds = cm.DeletionGracePeriodSeconds
	nm.Generation = cm.Generation
	nm.ResourceVersion = cm.ResourceVersion
	nm.SelfLink = ""
	if cm.DeletionTimestamp != nil {
		for _, f := range nm.Finalizers {
			if !slices.Contains(cm.Finalizers, f) {
				return nil, api.NewInvalid(r.Group, r.Kind, cm.Name, api.ErrorList{
					api.Forbidden("metadata.finalizers", "no new finalizers can be added if the object is being deleted, found new finalizers []string{\""+f+"\"}")})
			}
		}
	}
	if isNamespaces(r) && mode != updateStatus {
		if next, err = withNamespaceDefaults(r, next); err != nil {
			return nil, err
		}
		nm = next.GetObjectMeta()
	}
	if mode != updateStatus {
		changed, err := specChanged(r, cur, next)
		if err != nil {
			return nil, err
		}
		if changed {
			nm.Generation++
		}
	}
	// Kubernetes' shouldDeleteDuringUpdate: the last finalizer of an object
	// whose grace period has run out is gone.
	if len(nm.Finalizers) == 0 && len(cm.Finalizers) > 0 && cm.DeletionTimestamp != nil &&
		cm.DeletionGracePeriodSeconds != nil && *cm.DeletionGracePeriodSeconds == 0 {
		return w.remove(r, next)
	}
	return w.putIfChanged(r, next, cur, curRaw)
}

// withStatusOf returns dst with the top-level "status" of src.
func withStatusOf(r *api.ResourceInfo, dst, src api.Object) (api.Object, error) {
	dm, err := topLevel(dst)
	if err != nil {
		return nil, err
	}
	sm, err := topLevel(src)
	if err != nil {
		return nil, err
	}
	if st, ok := sm["status"]; ok {
		dm["status"] = st
	} else {
		delete(dm, "status")
	}
	raw, err := json.Marshal(dm)
	if err != nil {
		return nil, api.NewInternalError(err)
	}
	return decode(r, raw)
}

func topLevel(obj api.Object) (map[string]json.RawMessage, error) {
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, api.NewBadRequest(fmt.Sprintf("encoding %q: %v", obj.GetObjectMeta().Name, err))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, api.NewBadRequest(fmt.Sprintf("object %q does not encode to a JSON object: %v", obj.GetObjectMeta().Name, err))
	}
	return m, nil
}

// specChanged reports whether anything outside metadata and status (and
// kind and apiVersion) differs: what bumps generation.
func specChanged(r *api.ResourceInfo, a, b api.Object) (bool, error) {
	am, err := topLevel(a)
	if err != nil {
		return false, err
	}
	bm, err := topLevel(b)
	if err != nil {
		return false, err
	}
	for _, m := range []map[string]json.RawMessage{am, bm} {
		for _, k := range []string{"metadata", "status", "kind", "apiVersion"} {
			delete(m, k)
		}
	}
	if len(am) != len(bm) {
		return true, nil
	}
	for k, v := range am {
		if !bytes.Equal(v, bm[k]) {
			return true, nil
		}
	}
	return false, nil
}
