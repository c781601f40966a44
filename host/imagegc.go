package host

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// Image garbage collection, as the kubelet's: every imageGCPeriod the usage
// of the filesystem that holds the data dir is measured; at or above the
// high threshold, the registry images no pod uses are removed, least
// recently used first and none pulled within imageMinimumGCAge, until the
// usage is down to the low threshold. When that is not enough the node
// says so with a FreeDiskSpaceFailed event on the Node.

// ImageOptions configure the node's registry images.
type ImageOptions struct {
	// InsecureRegistries ("host:port") are reached over plain HTTP although
	// they are not on this machine (loopback registries always are).
	InsecureRegistries []string
	// GCHighThresholdPercent is the disk usage at which image garbage
	// collection runs (default DefaultImageGCHighThreshold; 100 never).
	GCHighThresholdPercent int
	// GCLowThresholdPercent is the usage it frees down to (default
	// DefaultImageGCLowThreshold).
	GCLowThresholdPercent int

	// diskStats measures the filesystem of a directory (tests).
	diskStats func(dir string) (capacity, available int64, err error)
}

// The kubelet's defaults.
const (
	DefaultImageGCHighThreshold = 85
	DefaultImageGCLowThreshold  = 80
	// imageGCPeriod is how often the disk is measured (ImageGCPeriod).
	imageGCPeriod = 5 * time.Minute
	// imageMinimumGCAge: an image pulled more recently is kept
	// (--minimum-image-ttl-duration).
	imageMinimumGCAge = 2 * time.Minute
)

func (o ImageOptions) withDefaults() ImageOptions {
	if o.GCHighThresholdPercent == 0 {
		o.GCHighThresholdPercent = DefaultImageGCHighThreshold
	}
	if o.GCLowThresholdPercent == 0 {
		o.GCLowThresholdPercent = DefaultImageGCLowThreshold
	}
	if o.diskStats == nil {
		o.diskStats = diskStats
	}
	return o
}

// Validate checks the thresholds as the kubelet does.
func (o ImageOptions) Validate() error {
	o = o.withDefaults()
	if o.GCHighThresholdPercent < 0 || o.GCHighThresholdPercent > 100 {
		return fmt.Errorf("image GC high threshold %d%% is not between 0 and 100", o.GCHighThresholdPercent)
	}
	if o.GCLowThresholdPercent < 0 || o.GCLowThresholdPercent > 100 {
		return fmt.Errorf("image GC low threshold %d%% is not between 0 and 100", o.GCLowThresholdPercent)
	}
	if o.GCLowThresholdPercent >= o.GCHighThresholdPercent && o.GCHighThresholdPercent < 100 {
		return fmt.Errorf("image GC low threshold %d%% must be less than the high threshold %d%%", o.GCLowThresholdPercent, o.GCHighThresholdPercent)
	}
	return nil
}

// Reasons of the node's image GC events, the kubelet's.
const (
	ReasonFreeDiskSpaceFailed = "FreeDiskSpaceFailed"
	ReasonImageGCFailed       = "ImageGCFailed"
)

// imageGC runs image garbage collection every imageGCPeriod until ctx ends.
func (h *Host) imageGC(ctx context.Context) {
	t := h.clock.NewTimer(imageGCPeriod)
	defer t.Stop()
	failedBefore := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		if err := h.garbageCollectImages(ctx); err != nil && ctx.Err() == nil {
			h.log.Error("image garbage collection failed", "err", err)
			// As the kubelet, an event only when it fails again.
			if failedBefore && !errors.Is(err, errFreedTooLittle) {
				h.recorder.Event(h.nodeRef(), api.EventTypeWarning, ReasonImageGCFailed, err.Error())
			}
			failedBefore = true
		} else {
			failedBefore = false
		}
		t.Reset(imageGCPeriod)
	}
}

var errFreedTooLittle = errors.New("failed to garbage collect required amount of images")

// garbageCollectImages frees disk by removing unused images when the usage
// is at or above the high threshold.
func (h *Host) garbageCollectImages(ctx context.Context) error {
	o := h.opts.Images
	if o.GCHighThresholdPercent >= 100 {
		return nil
	}
	capacity, available, err := o.diskStats(h.opts.DataDir)
	if err != nil {
		return fmt.Errorf("measuring the disk of %s: %w", h.opts.DataDir, err)
	}
	if capacity <= 0 || available > capacity {
		return fmt.Errorf("the disk of %s has capacity %d and %d bytes available", h.opts.DataDir, capacity, available)
	}
	usage := 100 - int(available*100/capacity)
	if usage < o.GCHighThresholdPercent {
		return nil
	}
	amount := capacity*int64(100-o.GCLowThresholdPercent)/100 - available
	h.log.Info("disk usage is over the high threshold, freeing images down to the low threshold",
		"usage", usage, "highThreshold", o.GCHighThresholdPercent, "amountToFree", amount, "lowThreshold", o.GCLowThresholdPercent)
	freed, err := h.freeImages(ctx, amount)
	if err != nil {
		return err
	}
	if freed < amount {
		msg := fmt.Sprintf("Failed to garbage collect required amount of images. Attempted to free %d bytes, but only found %d bytes eligible to free.", amount, freed)
		h.recorder.Event(h.nodeRef(), api.EventTypeWarning, ReasonFreeDiskSpaceFailed, msg)
		return fmt.Errorf("%w: attempted to free %d bytes, but only found %d bytes eligible to free", errFreedTooLittle, amount, freed)
	}
	return nil
}

// freeImages removes unused images, least recently used first, until
// amount bytes are freed; it returns how many were.
func (h *Host) freeImages(ctx context.Context, amount int64) (int64, error) {
	h.images.removeMu.Lock()
	defer h.images.removeMu.Unlock()
	users, err := h.imageUsers(ctx)
	if err != nil {
		return 0, err
	}
	now := h.clock.Now()
	var candidates []nodeImage
	for _, im := range h.images.nodeImages() {
		if len(im.usedBy(users)) == 0 && now.Sub(im.pulled) >= imageMinimumGCAge {
			candidates = append(candidates, im)
		}
	}
	sort.SliceStable(candidates, func(i, j int) bool {
		if !candidates[i].lastUsed.Equal(candidates[j].lastUsed) {
			return candidates[i].lastUsed.Before(candidates[j].lastUsed)
		}
		return candidates[i].pulled.Before(candidates[j].pulled)
	})
	var freed int64
	for i := range candidates {
		if freed >= amount {
			break
		}
		n, err := h.images.removeImageRefs(&candidates[i])
		if err != nil {
			return freed, err
		}
		h.log.Info("removing image to free bytes", "image", candidates[i].repoDigest(), "size", candidates[i].size, "lastUsed", candidates[i].lastUsed)
		freed += n
	}
	return freed, nil
}

// nodeRef is the Node as the kubelet's events name it (its UID the node's
// name).
func (h *Host) nodeRef() *api.Node {
	return &api.Node{TypeMeta: api.TypeMeta{Kind: "Node", APIVersion: "v1"},
		ObjectMeta: api.ObjectMeta{Name: h.opts.NodeName, UID: h.opts.NodeName}}
}
