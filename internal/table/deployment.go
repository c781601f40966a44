package table

import (
	"fmt"
	"strconv"
	"time"

	"github.com/wasmlet/wasmlet/api"
)

// deploymentPrinter is Kubernetes' printDeployment: READY is ready over
// desired replicas.
type deploymentPrinter struct{}

func (deploymentPrinter) columns(wide bool) []string {
	c := []string{"NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"}
	if wide {
		c = append(c, "CONTAINERS", "IMAGES", "SELECTOR")
	}
	return c
}

func (deploymentPrinter) row(obj api.Object, now time.Time, wide bool) []string {
	d := obj.(*api.Deployment)
	desired := int32(1)
	if d.Spec.Replicas != nil {
		desired = *d.Spec.Replicas
	}
	row := []string{d.Name, fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, desired),
		strconv.Itoa(int(d.Status.UpdatedReplicas)), strconv.Itoa(int(d.Status.AvailableReplicas)),
		age(d.CreationTimestamp, now)}
	if wide {
		names, images := containerCells(d.Spec.Template.Spec.Containers)
		row = append(row, names, images, FormatLabelSelector(d.Spec.Selector))
	}
	return row
}
