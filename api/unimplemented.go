package api

import "reflect"

// unimplemented lists, per type, the JSON fields that Kubernetes' type has
// and wasmlet's does not. A manifest that sets one is accepted with a
// warning naming the field, which is dropped; any other field the type
// lacks is an unknown field (an error in strict decoding). The lists follow
// Kubernetes 1.32 and the fields added in 1.33.
var unimplemented = map[reflect.Type][]string{
	reflect.TypeFor[PodSpec](): {"ephemeralContainers", "hostPID", "hostIPC", "shareProcessNamespace",
		"affinity", "tolerations", "hostAliases", "dnsConfig", "runtimeClassName", "overhead", "topologySpreadConstraints",
		"os", "hostUsers", "schedulingGates", "resourceClaims", "resources"},
	reflect.TypeFor[PodSecurityContext](): {"seLinuxOptions", "windowsOptions", "runAsUser", "runAsGroup", "runAsNonRoot",
		"supplementalGroups", "supplementalGroupsPolicy", "fsGroup", "sysctls", "fsGroupChangePolicy", "seccompProfile",
		"appArmorProfile", "seLinuxChangePolicy"},
	reflect.TypeFor[Container](): {"resizePolicy", "volumeDevices", "securityContext", "restartPolicyRules"},
	reflect.TypeFor[VolumeSource](): {"gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi",
		"glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc",
		"azureFile", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected",
		"portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image"},
	reflect.TypeFor[Volume]():                {}, // its source is inlined: see VolumeSource
	reflect.TypeFor[ResourceRequirements]():  {"claims"},
	reflect.TypeFor[VolumeMount]():           {"recursiveReadOnly", "mountPropagation", "subPathExpr"},
	reflect.TypeFor[Lifecycle]():             {"stopSignal"},
	reflect.TypeFor[PodStatus]():             {"observedGeneration", "ephemeralContainerStatuses", "resize", "resourceClaimStatuses"},
	reflect.TypeFor[PodCondition]():          {"observedGeneration"},
	reflect.TypeFor[ContainerStatus]():       {"allocatedResources", "resources", "volumeMounts", "user", "allocatedResourcesStatus", "stopSignal"},
	reflect.TypeFor[ReplicaSetStatus]():      {"terminatingReplicas"},
	reflect.TypeFor[NamespaceStatus]():       {"conditions"},
	reflect.TypeFor[NodeSpec]():              {"configSource", "externalID"},
	reflect.TypeFor[NodeStatus]():            {"images", "volumesInUse", "volumesAttached", "config", "runtimeHandlers", "features"},
	reflect.TypeFor[NodeSystemInfo]():        {"swap"},
	reflect.TypeFor[ContainerStateWaiting](): {},
}

// isUnimplemented reports whether Kubernetes' version of struct type t has
// the JSON field name (including fields of t's inlined structs).
func isUnimplemented(t reflect.Type, name string) bool {
	for _, n := range unimplemented[t] {
		if n == name {
			return true
		}
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct && isInline(f) && isUnimplemented(f.Type, name) {
			return true
		}
	}
	return false
}
