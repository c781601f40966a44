package api

import (
	"reflect"
	"sort"
	"strings"
)

// The documentation of every type and field wasmlet serves, in one place:
// the API server's OpenAPI documents publish it (so `kubectl explain`
// prints it) and `wasmlet explain` prints it, from the same Fields walk.
// The texts are our own, written for what a wasmlet node does with each
// field; Kubernetes' documentation is the reference for the meaning.

// Field is one JSON field of a Go type, as the schema and explain show it.
type Field struct {
	// Name is the JSON name.
	Name string
	// Type is the field's Go type (pointers included).
	Type reflect.Type
	// Description is the field's documentation.
	Description string
	// Required fields have no omitempty in their JSON tag (and are not in
	// optionalFields): Kubernetes marks the same ones required.
	Required bool
}

// Fields returns the JSON fields of struct type t in declaration order,
// with those of inlined (embedded) structs in their place.
func Fields(t reflect.Type) []Field {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []Field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			out = append(out, Fields(ft)...)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		key := t.Name() + "." + name
		out = append(out, Field{
			Name:        name,
			Type:        f.Type,
			Description: fieldDocs[key],
			Required:    !strings.Contains(","+opts+",", ",omitempty,") && !optionalFields[key],
		})
	}
	return out
}

// TypeDescription is the documentation of a named type ("" if none).
func TypeDescription(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return typeDocs[t.Name()]
}

// Enum returns the values a string type admits, sorted, or nil when any
// string is accepted.
func Enum(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.PkgPath() != reflect.TypeFor[Pod]().PkgPath() {
		return nil
	}
	v := enums[t.Name()]
	if v == nil {
		return nil
	}
	out := append([]string(nil), v...)
	sort.Strings(out)
	return out
}

// optionalFields have no omitempty in their JSON tag but may be left out,
// as in Kubernetes.
var optionalFields = map[string]bool{
	"GRPCAction.service":       true,
	"Event.reportingComponent": true,
	"Event.reportingInstance":  true,
}

// enums are the string types whose values the node checks.
var enums = map[string][]string{
	"RestartPolicy":            {"Always", "OnFailure", "Never"},
	"DNSPolicy":                {"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"},
	"PreemptionPolicy":         {"PreemptLowerPriority", "Never"},
	"Protocol":                 {"TCP", "UDP", "SCTP"},
	"URIScheme":                {"HTTP", "HTTPS"},
	"TerminationMessagePolicy": {"File", "FallbackToLogsOnError"},
	"PullPolicy":               {"Always", "Never", "IfNotPresent"},
	"PodPhase":                 {"Pending", "Running", "Succeeded", "Failed", "Unknown"},
	"PodQOSClass":              {"Guaranteed", "Burstable", "BestEffort"},
	"TaintEffect":              {"NoSchedule", "PreferNoSchedule", "NoExecute"},
	"NamespacePhase":           {"Active", "Terminating"},
	"HostPathType":             {"", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice"},
}

// typeDocs documents the types, by Go name.
var typeDocs = map[string]string{
	"Pod":                            "Pod is a group of containers, each a WASI module, that the node runs together with one IP address and shared volumes.",
	"PodSpec":                        "PodSpec is what a pod runs: its containers and volumes, and how the node restarts and stops them.",
	"PodSecurityContext":             "PodSecurityContext holds security settings for a whole pod. A WebAssembly module has no user, group or capabilities: wasmlet implements none of its fields, and each one set is a warning.",
	"PodReadinessGate":               "PodReadinessGate names a pod condition that must also be True for the pod to be Ready.",
	"Volume":                         "Volume is a directory that the containers of a pod can mount.",
	"HostPathVolumeSource":           "HostPathVolumeSource is a directory or file of the node, mounted into the pod. The node refuses it unless the directory lies under one it was started to allow.",
	"EmptyDirVolumeSource":           "EmptyDirVolumeSource is a directory that starts empty and lives as long as the pod.",
	"Container":                      "Container is one WASI module that runs in a pod.",
	"ContainerPort":                  "ContainerPort is a network port that a container listens on.",
	"EnvVar":                         "EnvVar is one environment variable of a container.",
	"EnvVarSource":                   "EnvVarSource is where the value of an environment variable comes from.",
	"ObjectFieldSelector":            "ObjectFieldSelector selects a field of the pod.",
	"ResourceFieldSelector":          "ResourceFieldSelector selects a limit or a request of a container.",
	"ResourceRequirements":           "ResourceRequirements are the resources a container may use at most (limits) and asks for (requests).",
	"VolumeMount":                    "VolumeMount puts a volume of the pod at a path inside a container.",
	"Probe":                          "Probe is a check that the node runs against a container at intervals; its results make the container live, ready or started.",
	"ExecAction":                     "ExecAction runs a command: a fresh instance of the container's module, with the container's mounts and environment.",
	"HTTPGetAction":                  "HTTPGetAction sends an HTTP GET request; a status from 200 to 399 is a success.",
	"HTTPHeader":                     "HTTPHeader is one header of an HTTP request.",
	"TCPSocketAction":                "TCPSocketAction opens a TCP connection; the check succeeds if the connection opens.",
	"GRPCAction":                     "GRPCAction calls the Check method of the standard gRPC health service.",
	"Lifecycle":                      "Lifecycle holds the actions the node runs right after a container starts and right before it is stopped.",
	"LifecycleHandler":               "LifecycleHandler is the one action of a lifecycle hook. Exactly one of its fields must be set.",
	"SleepAction":                    "SleepAction waits for some time.",
	"PodCondition":                   "PodCondition is one aspect of a pod's state, with when and why it last changed.",
	"PodStatus":                      "PodStatus is what the node last observed of a pod. The node writes it; clients read it.",
	"HostIP":                         "HostIP is one IP address of the node that runs a pod.",
	"PodIP":                          "PodIP is one IP address given to a pod.",
	"ContainerStatus":                "ContainerStatus is what the node observed of one container of a pod.",
	"ContainerState":                 "ContainerState is the state of a container: at most one of waiting, running and terminated is set, and waiting is assumed when none is.",
	"ContainerStateWaiting":          "ContainerStateWaiting is a container that is not running yet, or not again.",
	"ContainerStateRunning":          "ContainerStateRunning is a container whose module is running.",
	"ContainerStateTerminated":       "ContainerStateTerminated is a container whose module has ended.",
	"PodTemplateSpec":                "PodTemplateSpec describes the pods that a controller creates.",
	"ReplicaSet":                     "ReplicaSet keeps a number of identical pods running, creating and deleting pods that match its selector.",
	"ReplicaSetSpec":                 "ReplicaSetSpec is what a ReplicaSet should keep running.",
	"ReplicaSetStatus":               "ReplicaSetStatus is what the ReplicaSet controller last observed.",
	"ReplicaSetCondition":            "ReplicaSetCondition is one aspect of a ReplicaSet's state.",
	"ReplicationController":          "ReplicationController keeps a number of identical pods running. It is the older form of a ReplicaSet, with a selector of labels that must all match.",
	"ReplicationControllerSpec":      "ReplicationControllerSpec is what a ReplicationController should keep running.",
	"ReplicationControllerStatus":    "ReplicationControllerStatus is what the replication controller last observed.",
	"ReplicationControllerCondition": "ReplicationControllerCondition is one aspect of a ReplicationController's state.",
	"LabelSelector":                  "LabelSelector selects objects by their labels. The requirements of matchLabels and matchExpressions must all hold; an empty selector selects every object, a null one none.",
	"LabelSelectorRequirement":       "LabelSelectorRequirement is one condition on the value of a label.",
	"Scale":                          "Scale is the number of replicas of a ReplicaSet or a ReplicationController, read and written through their scale subresource.",
	"ScaleSpec":                      "ScaleSpec is the number of replicas wanted.",
	"ScaleStatus":                    "ScaleStatus is the number of replicas observed.",
	"Event":                          "Event is a report of something that happened to an object: a pod scheduled, a module pulled, a container started or killed. Events expire after an hour.",
	"ObjectReference":                "ObjectReference points at one object, or at a field inside it.",
	"EventSource":                    "EventSource is the component that reported an event.",
	"EventSeries":                    "EventSeries counts repeats of an event that happens again and again.",
	"Namespace":                      "Namespace groups objects under one name; the names of namespaced objects are unique within it.",
	"NamespaceSpec":                  "NamespaceSpec is what a namespace should be.",
	"NamespaceStatus":                "NamespaceStatus is the observed state of a namespace.",
	"Node":                           "Node is the machine that runs the pods. A wasmlet node registers itself as the only one.",
	"NodeSpec":                       "NodeSpec is how the node is set up.",
	"Taint":                          "Taint keeps pods that do not tolerate it away from the node.",
	"NodeStatus":                     "NodeStatus is what the node reports of itself.",
	"NodeCondition":                  "NodeCondition is one aspect of the node's state.",
	"NodeAddress":                    "NodeAddress is one address of the node.",
	"ContainerImage":                 "ContainerImage is one image the node holds.",
	"NodeDaemonEndpoints":            "NodeDaemonEndpoints are the ports on which the node's own daemons listen.",
	"DaemonEndpoint":                 "DaemonEndpoint is the port of one daemon.",
	"NodeSystemInfo":                 "NodeSystemInfo identifies the machine and the software of the node.",
	"ObjectMeta":                     "ObjectMeta is the metadata every stored object has: its name, namespace, labels and annotations, and what the node records about it.",
	"OwnerReference":                 "OwnerReference names an object that owns this one. When every owner is gone, the owned object is deleted.",
	"Quantity":                       "Quantity is an amount written as a decimal number with an optional suffix: binary (Ki, Mi, Gi, Ti, Pi, Ei), decimal (m, k, M, G, T, P, E) or an exponent (1e3). It is exact, and written back in its shortest form of the same family, so 1024Mi reads back as 1Gi.",
	"IntOrString":                    "IntOrString holds either a number or a string; for a port, a number or the name of a port of the container.",
}

// fieldDocs documents the fields, by Go type name and JSON name. The
// fields of TypeMeta are documented once and shown in every kind.
var fieldDocs = map[string]string{
	"TypeMeta.kind":       "Kind is the kind of the object, in CamelCase (Pod, ReplicaSet). Servers can infer it from the endpoint a client writes to; it cannot be updated.",
	"TypeMeta.apiVersion": "APIVersion is the group and version of the object's schema (v1, apps/v1). Servers convert objects to the version they store.",

	"ObjectMeta.name":                       "Name identifies the object within its namespace (or among all objects of its kind, for kinds outside namespaces). It is required when creating an object unless generateName is set, and cannot be changed.",
	"ObjectMeta.generateName":               "GenerateName is a prefix from which the node makes a unique name when name is empty: five random characters are added to it. Controllers name their pods so.",
	"ObjectMeta.namespace":                  "Namespace is the namespace the object lives in. An empty namespace means \"default\" for the kinds that live in one; the field cannot be changed.",
	"ObjectMeta.selfLink":                   "SelfLink is a deprecated field that the node does not fill.",
	"ObjectMeta.uid":                        "UID is unique to this object over the node's whole life, set by the node when the object is created; a new object of the same name gets a new one.",
	"ObjectMeta.resourceVersion":            "ResourceVersion is an opaque value that changes with every write of the object. An update that sends it succeeds only if the object has not changed since; watches start after it.",
	"ObjectMeta.generation":                 "Generation counts the changes to the object's desired state; the node sets it.",
	"ObjectMeta.creationTimestamp":          "CreationTimestamp is when the node stored the object, in UTC. Clients cannot set it.",
	"ObjectMeta.deletionTimestamp":          "DeletionTimestamp is set when the object is being deleted: for a pod, when its grace period ends and its containers are killed; for other objects, when the deletion was asked. The object stays until its finalizers are gone.",
	"ObjectMeta.deletionGracePeriodSeconds": "DeletionGracePeriodSeconds is the time the object was given to stop when its deletion was asked. It can only be shortened.",
	"ObjectMeta.labels":                     "Labels are keys and values that selectors match: they organise objects and tie pods to their controllers.",
	"ObjectMeta.annotations":                "Annotations are keys and values that tools store with the object; nothing selects by them.",
	"ObjectMeta.ownerReferences":            "OwnerReferences name the objects this one depends on; at most one of them can be the controller.",
	"ObjectMeta.finalizers":                 "Finalizers must all be removed before a deleted object is removed from the store. The node removes the orphan finalizer once the dependents are released.",
	"ObjectMeta.managedFields":              "ManagedFields records which client manages which fields, for server-side apply. wasmlet keeps what clients send and does not maintain it.",

	"OwnerReference.apiVersion":         "APIVersion of the owner.",
	"OwnerReference.kind":               "Kind of the owner.",
	"OwnerReference.name":               "Name of the owner.",
	"OwnerReference.uid":                "UID of the owner.",
	"OwnerReference.controller":         "Controller is true for the owner that manages this object; an object has at most one.",
	"OwnerReference.blockOwnerDeletion": "BlockOwnerDeletion, when true, asks that a foreground deletion of the owner wait until this object is gone.",

	"Pod.metadata": "Standard object metadata.",
	"Pod.spec":     "Spec is what the pod should run.",
	"Pod.status":   "Status is what the node last observed of the pod; it may lag behind.",

	"PodSpec.volumes":                       "Volumes are the directories the pod's containers can mount: emptyDir and hostPath are implemented.",
	"PodSpec.initContainers":                "InitContainers run one after the other, each to a successful end, before the containers start. An init container with restartPolicy Always is a sidecar: it keeps running beside the containers.",
	"PodSpec.containers":                    "Containers are the WASI modules the pod runs. There must be at least one, and the list cannot change once the pod exists.",
	"PodSpec.restartPolicy":                 "RestartPolicy says when the node restarts a container that ended: Always, OnFailure (after a non-zero exit) or Never. Default: Always. Restarts wait with a back-off from 10s doubling to 300s.",
	"PodSpec.terminationGracePeriodSeconds": "TerminationGracePeriodSeconds is the time a container gets to stop after its preStop hook and the termination signal, before it is killed. Default: 30. Zero kills at once.",
	"PodSpec.activeDeadlineSeconds":         "ActiveDeadlineSeconds is kept for the sake of Kubernetes manifests; it must be positive.",
	"PodSpec.dnsPolicy":                     "DNSPolicy is kept for the sake of Kubernetes manifests; the node has no DNS of its own. Default: ClusterFirst.",
	"PodSpec.nodeSelector":                  "NodeSelector is kept for the sake of Kubernetes manifests; the node runs every pod it is given.",
	"PodSpec.serviceAccountName":            "ServiceAccountName is kept for the sake of Kubernetes manifests; wasmlet has no service accounts.",
	"PodSpec.serviceAccount":                "ServiceAccount is the deprecated form of serviceAccountName.",
	"PodSpec.automountServiceAccountToken":  "AutomountServiceAccountToken is kept for the sake of Kubernetes manifests; no token is mounted.",
	"PodSpec.nodeName":                      "NodeName is the node the pod is bound to. The node sets it to its own name when the pod is created.",
	"PodSpec.hostNetwork":                   "HostNetwork is kept for the sake of Kubernetes manifests; every pod gets an IP of its own.",
	"PodSpec.securityContext":               "SecurityContext holds security settings for the whole pod; none of them applies to WebAssembly modules.",
	"PodSpec.hostname":                      "Hostname is the HOSTNAME the pod's modules see; default: the pod's name.",
	"PodSpec.subdomain":                     "Subdomain is kept for the sake of Kubernetes manifests.",
	"PodSpec.schedulerName":                 "SchedulerName is kept for the sake of Kubernetes manifests; the node places every pod on itself. Default: default-scheduler.",
	"PodSpec.priorityClassName":             "PriorityClassName is kept for the sake of Kubernetes manifests.",
	"PodSpec.priority":                      "Priority is kept for the sake of Kubernetes manifests.",
	"PodSpec.readinessGates":                "ReadinessGates name extra conditions that must be True for the pod to be Ready.",
	"PodSpec.enableServiceLinks":            "EnableServiceLinks is kept for the sake of Kubernetes manifests; wasmlet has no services. Default: true.",
	"PodSpec.preemptionPolicy":              "PreemptionPolicy is kept for the sake of Kubernetes manifests.",
	"PodSpec.setHostnameAsFQDN":             "SetHostnameAsFQDN is kept for the sake of Kubernetes manifests.",

	"PodReadinessGate.conditionType": "ConditionType is the type of a pod condition.",

	"Volume.name":           "Name of the volume, unique in the pod; volumeMounts refer to it.",
	"VolumeSource.hostPath": "HostPath mounts a directory or file of the node. It needs a node started with --allow-host-path for a directory above it.",
	"VolumeSource.emptyDir": "EmptyDir is a directory that starts empty and is removed with the pod.",

	"HostPathVolumeSource.path": "Path on the node; absolute.",
	"HostPathVolumeSource.type": "Type is what must be at path before the pod starts; DirectoryOrCreate and FileOrCreate create it. Default: \"\", no check.",

	"EmptyDirVolumeSource.medium":    "Medium is where the directory lives: \"\" for the node's disk, Memory for memory.",
	"EmptyDirVolumeSource.sizeLimit": "SizeLimit is the most the directory may hold.",

	"Container.name":                     "Name of the container, unique in the pod (a DNS label).",
	"Container.image":                    "Image is a reference to the container's WASI module: a path on the node (absolute, or relative to the node's image root), a file:// URL, or an http(s):// URL, optionally pinned with @sha256:<digest>.",
	"Container.command":                  "Command is the module's argv[0] and first arguments; args follow it. Without it, argv[0] is the container's name.",
	"Container.args":                     "Args are the module's arguments after command. $(VAR) is replaced by the value of the container's variable VAR; $$ is a $.",
	"Container.workingDir":               "WorkingDir is kept for the sake of Kubernetes manifests; a module sees the directories of its volume mounts.",
	"Container.ports":                    "Ports are the TCP ports the module listens on. The node opens each on the pod's IP and hands the listener to the module (LISTEN_FDS, LISTEN_FDNAMES); the list cannot change once the pod exists.",
	"Container.env":                      "Env are environment variables of the module, beside HOSTNAME, POD_NAME, POD_NAMESPACE and POD_IP, which the node adds. $(VAR) in a value refers to a variable defined before it.",
	"Container.resources":                "Resources are the container's limits and requests; limits.memory bounds the module's linear memory.",
	"Container.restartPolicy":            "RestartPolicy is set on init containers only: Always makes one a sidecar, started before the containers and kept running beside them.",
	"Container.volumeMounts":             "VolumeMounts put the pod's volumes into the module's file system.",
	"Container.livenessProbe":            "LivenessProbe checks that the container is alive; after failureThreshold failures in a row the node restarts it.",
	"Container.readinessProbe":           "ReadinessProbe checks that the container can serve; while it fails the container is not Ready.",
	"Container.startupProbe":             "StartupProbe checks that the container has started; liveness and readiness probes wait until it succeeds, and the container is restarted if it fails failureThreshold times.",
	"Container.lifecycle":                "Lifecycle holds the hooks the node runs after the container starts and before it stops.",
	"Container.terminationMessagePath":   "TerminationMessagePath is the file in the container from which the node reads the termination message. Default: /dev/termination-log.",
	"Container.terminationMessagePolicy": "TerminationMessagePolicy says where the termination message comes from: File, or FallbackToLogsOnError for the end of the log when the file is empty and the module failed. Default: File.",
	"Container.imagePullPolicy":          "ImagePullPolicy says when the node fetches the module: Always, Never or IfNotPresent. Default: Always for an unpinned http(s) URL and references ending in :latest, IfNotPresent otherwise.",
	"Container.stdin":                    "Stdin is kept for the sake of Kubernetes manifests; modules read an empty stdin.",
	"Container.stdinOnce":                "StdinOnce is kept for the sake of Kubernetes manifests.",
	"Container.tty":                      "TTY is kept for the sake of Kubernetes manifests; modules have no terminal.",

	"ContainerPort.name":          "Name of the port, unique in the pod (an IANA service name); probes can name it instead of a number.",
	"ContainerPort.hostPort":      "HostPort is kept for the sake of Kubernetes manifests; the port is opened on the pod's IP only.",
	"ContainerPort.containerPort": "ContainerPort is the port number the module listens on, on the pod's IP (1-65535).",
	"ContainerPort.protocol":      "Protocol of the port: TCP, UDP or SCTP. Default: TCP. The node opens TCP ports only.",
	"ContainerPort.hostIP":        "HostIP is kept for the sake of Kubernetes manifests.",

	"EnvVar.name":      "Name of the variable.",
	"EnvVar.value":     "Value of the variable. $(VAR) refers to a variable defined before; $$ is a $. Default: \"\".",
	"EnvVar.valueFrom": "ValueFrom takes the value from the pod or the container instead; value must then be empty.",

	"EnvVarSource.fieldRef":         "FieldRef takes a field of the pod: metadata.name, metadata.namespace, metadata.uid, metadata.labels['<key>'], metadata.annotations['<key>'], spec.nodeName, spec.serviceAccountName, status.hostIP, status.hostIPs, status.podIP or status.podIPs.",
	"EnvVarSource.resourceFieldRef": "ResourceFieldRef takes a limit or request of a container: limits.cpu, limits.memory, requests.cpu or requests.memory.",

	"ObjectFieldSelector.apiVersion": "APIVersion of the schema fieldPath is written in. Default: v1.",
	"ObjectFieldSelector.fieldPath":  "FieldPath is the path of the field in that version.",

	"ResourceFieldSelector.containerName": "ContainerName is the container whose resources are read; default: this one.",
	"ResourceFieldSelector.resource":      "Resource is the limit or request to read.",
	"ResourceFieldSelector.divisor":       "Divisor is the unit of the value: 1m for millicores, 1Mi for mebibytes. Default: 1.",

	"ResourceRequirements.limits":   "Limits are the most of each resource the container may use. A module over its memory limit is killed as OOMKilled.",
	"ResourceRequirements.requests": "Requests are the amounts the container asks for; they default to the limits and may not exceed them.",

	"VolumeMount.name":      "Name of a volume of the pod.",
	"VolumeMount.readOnly":  "ReadOnly mounts the volume so that the module cannot write to it. Default: false.",
	"VolumeMount.mountPath": "MountPath is where the volume appears in the module's file system; it cannot contain ':'.",
	"VolumeMount.subPath":   "SubPath mounts a directory inside the volume instead of its root. Default: \"\" (the root).",

	"Probe.initialDelaySeconds":           "InitialDelaySeconds is how long after the container starts the first check runs. Default: 0.",
	"Probe.timeoutSeconds":                "TimeoutSeconds is how long a check may take before it counts as failed. Default: 1.",
	"Probe.periodSeconds":                 "PeriodSeconds is the time between two checks. Default: 10.",
	"Probe.successThreshold":              "SuccessThreshold is the number of successes in a row after a failure for the probe to succeed. Default: 1; it must be 1 for liveness and startup probes.",
	"Probe.failureThreshold":              "FailureThreshold is the number of failures in a row for the probe to fail. Default: 3.",
	"Probe.terminationGracePeriodSeconds": "TerminationGracePeriodSeconds, on a liveness or startup probe, replaces the pod's grace period when the probe's failure kills the container.",

	"ProbeHandler.exec":      "Exec runs a fresh instance of the container's module with the command as its argv, and its mounts and environment; exit code 0 is a success.",
	"ProbeHandler.httpGet":   "HTTPGet sends an HTTP GET to the container.",
	"ProbeHandler.tcpSocket": "TCPSocket opens a TCP connection to the container.",
	"ProbeHandler.grpc":      "GRPC calls the gRPC health service of the container.",

	"ExecAction.command": "Command is the argv of a fresh instance of the container's module; it is not run in a shell.",

	"HTTPGetAction.path":        "Path of the request.",
	"HTTPGetAction.port":        "Port of the request: a number, or the name of a port of the container.",
	"HTTPGetAction.host":        "Host to send the request to; default: the pod's IP.",
	"HTTPGetAction.scheme":      "Scheme of the request: HTTP or HTTPS (whose certificate is not checked). Default: HTTP.",
	"HTTPGetAction.httpHeaders": "HTTPHeaders are extra headers of the request.",

	"HTTPHeader.name":  "Name of the header.",
	"HTTPHeader.value": "Value of the header.",

	"TCPSocketAction.port": "Port to connect to: a number, or the name of a port of the container.",
	"TCPSocketAction.host": "Host to connect to; default: the pod's IP.",

	"GRPCAction.port":    "Port of the gRPC service (1-65535).",
	"GRPCAction.service": "Service is the name sent in the health check request; default: \"\", the server as a whole.",

	"Lifecycle.postStart": "PostStart runs right after the container starts; if it fails the container is killed and restarted by the restart policy.",
	"Lifecycle.preStop":   "PreStop runs before the container is sent the termination signal; its time counts against the grace period.",

	"LifecycleHandler.exec":      "Exec runs a fresh instance of the container's module with the command as its argv; a non-zero exit code fails the hook.",
	"LifecycleHandler.httpGet":   "HTTPGet sends an HTTP GET to the container.",
	"LifecycleHandler.tcpSocket": "TCPSocket opens a TCP connection to the container.",
	"LifecycleHandler.sleep":     "Sleep waits before the hook returns.",

	"SleepAction.seconds": "Seconds to wait.",

	"PodCondition.type":               "Type of the condition: PodScheduled, PodReadyToStartContainers, Initialized, ContainersReady or Ready.",
	"PodCondition.status":             "Status of the condition: True, False or Unknown.",
	"PodCondition.lastProbeTime":      "LastProbeTime is when the condition was last checked.",
	"PodCondition.lastTransitionTime": "LastTransitionTime is when the status last changed.",
	"PodCondition.reason":             "Reason is a one-word, CamelCase cause of the last change.",
	"PodCondition.message":            "Message tells a human about the last change.",

	"PodStatus.phase":                 "Phase sums up the pod's life: Pending (accepted, not all containers started), Running (bound, all containers started, at least one running), Succeeded (all ended with 0 and will not restart), Failed (all ended, at least one in failure) or Unknown.",
	"PodStatus.conditions":            "Conditions are the current states of the pod.",
	"PodStatus.message":               "Message tells a human why the pod is in its state.",
	"PodStatus.reason":                "Reason is a one-word, CamelCase cause of the pod's state.",
	"PodStatus.nominatedNodeName":     "NominatedNodeName is never set by wasmlet.",
	"PodStatus.hostIP":                "HostIP is the node's address.",
	"PodStatus.hostIPs":               "HostIPs are the node's addresses; the first is hostIP.",
	"PodStatus.podIP":                 "PodIP is the pod's address, on the node's pod range (a loopback range by default).",
	"PodStatus.podIPs":                "PodIPs are the pod's addresses; the first is podIP.",
	"PodStatus.startTime":             "StartTime is when the node accepted the pod, before its modules were fetched.",
	"PodStatus.initContainerStatuses": "InitContainerStatuses are the states of the init containers, in their order.",
	"PodStatus.containerStatuses":     "ContainerStatuses are the states of the containers, in their order.",
	"PodStatus.qosClass":              "QOSClass is the quality of service the pod's requests and limits give it: Guaranteed, Burstable or BestEffort.",

	"HostIP.ip": "IP is an address of the node.",
	"PodIP.ip":  "IP is an address of the pod.",

	"ContainerStatus.name":         "Name of the container.",
	"ContainerStatus.state":        "State is the container's state now.",
	"ContainerStatus.lastState":    "LastState is how the container's previous run ended; empty before the first restart.",
	"ContainerStatus.ready":        "Ready is true when the readiness probe (if any) last succeeded.",
	"ContainerStatus.restartCount": "RestartCount is how many times the node restarted the container.",
	"ContainerStatus.image":        "Image is the module reference the container runs.",
	"ContainerStatus.imageID":      "ImageID is the digest of the module's content (sha256:...).",
	"ContainerStatus.containerID":  "ContainerID identifies the container's current run, as wasmlet://<id>.",
	"ContainerStatus.started":      "Started is true once the startup probe (if any) has succeeded and the postStart hook has ended.",

	"ContainerState.waiting":    "Waiting: the container is not running.",
	"ContainerState.running":    "Running: the module is running.",
	"ContainerState.terminated": "Terminated: the module has ended.",

	"ContainerStateWaiting.reason":  "Reason the container is waiting: ContainerCreating, CrashLoopBackOff, ErrImagePull, ImagePullBackOff, ...",
	"ContainerStateWaiting.message": "Message tells a human why the container is waiting.",

	"ContainerStateRunning.startedAt": "StartedAt is when the module was (re)started.",

	"ContainerStateTerminated.exitCode":    "ExitCode of the module; 137 when it was killed.",
	"ContainerStateTerminated.signal":      "Signal that ended the module, if any.",
	"ContainerStateTerminated.reason":      "Reason the module ended: Completed, Error or OOMKilled.",
	"ContainerStateTerminated.message":     "Message is the termination message.",
	"ContainerStateTerminated.startedAt":   "StartedAt is when the module started.",
	"ContainerStateTerminated.finishedAt":  "FinishedAt is when the module ended.",
	"ContainerStateTerminated.containerID": "ContainerID identifies the run that ended, as wasmlet://<id>.",

	"PodTemplateSpec.metadata": "Metadata of the pods created from the template; its labels must match the controller's selector.",
	"PodTemplateSpec.spec":     "Spec of the pods created from the template.",

	"ReplicaSet.metadata": "Standard object metadata. Its labels default to nothing; they are not copied from the template.",
	"ReplicaSet.spec":     "Spec is what the ReplicaSet should keep running.",
	"ReplicaSet.status":   "Status is what the controller last observed; it may lag behind.",

	"ReplicaSetSpec.replicas":        "Replicas is the number of pods to keep running. Default: 1.",
	"ReplicaSetSpec.minReadySeconds": "MinReadySeconds is how long a new pod must be ready, with no container crashing, to count as available. Default: 0.",
	"ReplicaSetSpec.selector":        "Selector selects the pods the ReplicaSet counts and owns. It must match the template's labels and cannot be empty.",
	"ReplicaSetSpec.template":        "Template is the pod the ReplicaSet creates when there are too few. Its restartPolicy must be Always.",

	"ReplicaSetStatus.replicas":             "Replicas is the number of pods the ReplicaSet counts.",
	"ReplicaSetStatus.fullyLabeledReplicas": "FullyLabeledReplicas is the number of pods that carry every label of the template.",
	"ReplicaSetStatus.readyReplicas":        "ReadyReplicas is the number of pods that are Ready.",
	"ReplicaSetStatus.availableReplicas":    "AvailableReplicas is the number of pods Ready for at least minReadySeconds.",
	"ReplicaSetStatus.observedGeneration":   "ObservedGeneration is the generation of the ReplicaSet this status was computed from.",
	"ReplicaSetStatus.conditions":           "Conditions are the current states of the ReplicaSet.",

	"ReplicaSetCondition.type":               "Type of the condition: ReplicaFailure when pods could not be created or deleted.",
	"ReplicaSetCondition.status":             "Status of the condition: True, False or Unknown.",
	"ReplicaSetCondition.lastTransitionTime": "LastTransitionTime is when the status last changed.",
	"ReplicaSetCondition.reason":             "Reason is a one-word, CamelCase cause of the last change.",
	"ReplicaSetCondition.message":            "Message tells a human about the last change.",

	"ReplicationController.metadata": "Standard object metadata. Its labels default to those of the template.",
	"ReplicationController.spec":     "Spec is what the ReplicationController should keep running.",
	"ReplicationController.status":   "Status is what the controller last observed; it may lag behind.",

	"ReplicationControllerSpec.replicas":        "Replicas is the number of pods to keep running. Default: 1.",
	"ReplicationControllerSpec.minReadySeconds": "MinReadySeconds is how long a new pod must be ready, with no container crashing, to count as available. Default: 0.",
	"ReplicationControllerSpec.selector":        "Selector is labels that the pods must all have to be counted and owned. Default: the template's labels.",
	"ReplicationControllerSpec.template":        "Template is the pod the ReplicationController creates when there are too few. Its restartPolicy must be Always.",

	"ReplicationControllerStatus.replicas":             "Replicas is the number of pods the ReplicationController counts.",
	"ReplicationControllerStatus.fullyLabeledReplicas": "FullyLabeledReplicas is the number of pods that carry every label of the template.",
	"ReplicationControllerStatus.readyReplicas":        "ReadyReplicas is the number of pods that are Ready.",
	"ReplicationControllerStatus.availableReplicas":    "AvailableReplicas is the number of pods Ready for at least minReadySeconds.",
	"ReplicationControllerStatus.observedGeneration":   "ObservedGeneration is the generation of the ReplicationController this status was computed from.",
	"ReplicationControllerStatus.conditions":           "Conditions are the current states of the ReplicationController.",

	"ReplicationControllerCondition.type":               "Type of the condition: ReplicaFailure when pods could not be created or deleted.",
	"ReplicationControllerCondition.status":             "Status of the condition: True, False or Unknown.",
	"ReplicationControllerCondition.lastTransitionTime": "LastTransitionTime is when the status last changed.",
	"ReplicationControllerCondition.reason":             "Reason is a one-word, CamelCase cause of the last change.",
	"ReplicationControllerCondition.message":            "Message tells a human about the last change.",

	"LabelSelector.matchLabels":      "MatchLabels requires each key to have exactly its value; one entry is the same as a matchExpressions element with operator In and one value.",
	"LabelSelector.matchExpressions": "MatchExpressions are requirements that must all hold.",

	"LabelSelectorRequirement.key":      "Key is the label the requirement is about.",
	"LabelSelectorRequirement.operator": "Operator is In, NotIn, Exists or DoesNotExist.",
	"LabelSelectorRequirement.values":   "Values for In and NotIn, which need at least one; Exists and DoesNotExist take none.",

	"Scale.metadata": "Standard object metadata: that of the scaled object.",
	"Scale.spec":     "Spec is the number of replicas wanted.",
	"Scale.status":   "Status is the number of replicas observed.",

	"ScaleSpec.replicas":   "Replicas is the number of replicas wanted.",
	"ScaleStatus.replicas": "Replicas is the number of replicas observed.",
	"ScaleStatus.selector": "Selector is the scaled object's label selector, in the syntax of a labelSelector query.",

	"Event.metadata":           "Standard object metadata.",
	"Event.involvedObject":     "InvolvedObject is the object the event is about.",
	"Event.reason":             "Reason is a short, CamelCase word for what happened (Scheduled, Pulled, Started, Killing, BackOff, ...).",
	"Event.message":            "Message tells a human what happened.",
	"Event.source":             "Source is the component that reported the event.",
	"Event.firstTimestamp":     "FirstTimestamp is when the event first happened.",
	"Event.lastTimestamp":      "LastTimestamp is when the event last happened.",
	"Event.count":              "Count is how many times the event happened.",
	"Event.type":               "Type of the event: Normal or Warning.",
	"Event.eventTime":          "EventTime is when the event first happened, to the microsecond.",
	"Event.series":             "Series counts the repeats of an event that keeps happening.",
	"Event.action":             "Action is what was done, or failed to be done.",
	"Event.related":            "Related is a second object the event is about, if any.",
	"Event.reportingComponent": "ReportingComponent is the component that reported the event (kubelet, replicaset-controller, ...).",
	"Event.reportingInstance":  "ReportingInstance is the instance of that component: the node's name.",

	"ObjectReference.kind":            "Kind of the object.",
	"ObjectReference.namespace":       "Namespace of the object.",
	"ObjectReference.name":            "Name of the object.",
	"ObjectReference.uid":             "UID of the object.",
	"ObjectReference.apiVersion":      "APIVersion of the object.",
	"ObjectReference.resourceVersion": "ResourceVersion of the object when the reference was made.",
	"ObjectReference.fieldPath":       "FieldPath points at a part of the object, such as spec.containers{web} for a container.",

	"EventSource.component": "Component that reported the event.",
	"EventSource.host":      "Host (node) on which the event happened.",

	"EventSeries.count":            "Count is the number of repeats so far.",
	"EventSeries.lastObservedTime": "LastObservedTime is when the event last happened.",

	"Namespace.metadata": "Standard object metadata.",
	"Namespace.spec":     "Spec is what the namespace should be.",
	"Namespace.status":   "Status is the observed state of the namespace.",

	"NamespaceSpec.finalizers": "Finalizers must all be removed before a deleted namespace is removed; the node removes kubernetes once the namespace's objects are gone.",

	"NamespaceStatus.phase": "Phase is Active, or Terminating while the namespace's objects are deleted.",

	"Node.metadata": "Standard object metadata.",
	"Node.spec":     "Spec is how the node is set up.",
	"Node.status":   "Status is what the node reports of itself.",

	"NodeSpec.podCIDR":       "PodCIDR is the range the node takes pod IPs from.",
	"NodeSpec.podCIDRs":      "PodCIDRs are the ranges the node takes pod IPs from; the first is podCIDR.",
	"NodeSpec.providerID":    "ProviderID is kept for the sake of Kubernetes manifests.",
	"NodeSpec.unschedulable": "Unschedulable is kept for the sake of Kubernetes manifests; the node runs every pod it is given.",
	"NodeSpec.taints":        "Taints of the node; kept for the sake of Kubernetes manifests.",

	"Taint.key":       "Key of the taint.",
	"Taint.value":     "Value of the taint.",
	"Taint.effect":    "Effect on pods that do not tolerate the taint: NoSchedule, PreferNoSchedule or NoExecute.",
	"Taint.timeAdded": "TimeAdded is when a NoExecute taint was added.",

	"NodeStatus.capacity":        "Capacity is the resources of the machine.",
	"NodeStatus.allocatable":     "Allocatable is the part of the capacity that pods may have.",
	"NodeStatus.phase":           "Phase is a deprecated field that the node does not fill.",
	"NodeStatus.conditions":      "Conditions are the current states of the node: Ready, and the pressures it is under.",
	"NodeStatus.addresses":       "Addresses at which the node can be reached.",
	"NodeStatus.daemonEndpoints": "DaemonEndpoints are the ports of the node's own daemons.",
	"NodeStatus.nodeInfo":        "NodeInfo identifies the machine and the software of the node.",
	"NodeStatus.images":          "Images are the registry images the node holds, largest first (at most 50, as the kubelet lists them).",

	"NodeCondition.type":               "Type of the condition: Ready, MemoryPressure, DiskPressure, PIDPressure or NetworkUnavailable.",
	"NodeCondition.status":             "Status of the condition: True, False or Unknown.",
	"NodeCondition.lastHeartbeatTime":  "LastHeartbeatTime is when the node last reported the condition.",
	"NodeCondition.lastTransitionTime": "LastTransitionTime is when the status last changed.",
	"NodeCondition.reason":             "Reason is a one-word, CamelCase cause of the last change.",
	"NodeCondition.message":            "Message tells a human about the last change.",

	"NodeAddress.type":         "Type of the address: Hostname, InternalIP, ExternalIP, InternalDNS or ExternalDNS.",
	"NodeAddress.address":      "The address.",
	"ContainerImage.names":     "Names of the image: repository@digest, then repository:tag.",
	"ContainerImage.sizeBytes": "SizeBytes is the size of the image's module.",

	"NodeDaemonEndpoints.kubeletEndpoint": "KubeletEndpoint is the port of the node agent.",
	"DaemonEndpoint.Port":                 "Port number.",

	"NodeSystemInfo.machineID":               "MachineID of the machine (/etc/machine-id).",
	"NodeSystemInfo.systemUUID":              "SystemUUID of the machine.",
	"NodeSystemInfo.bootID":                  "BootID changes with every boot of the machine.",
	"NodeSystemInfo.kernelVersion":           "KernelVersion of the machine.",
	"NodeSystemInfo.osImage":                 "OSImage is the name of the operating system.",
	"NodeSystemInfo.containerRuntimeVersion": "ContainerRuntimeVersion is the WebAssembly runtime and its version.",
	"NodeSystemInfo.kubeletVersion":          "KubeletVersion is the version of the node agent.",
	"NodeSystemInfo.kubeProxyVersion":        "KubeProxyVersion is a deprecated field that the node does not fill.",
	"NodeSystemInfo.operatingSystem":         "OperatingSystem the node runs on (linux, darwin, ...).",
	"NodeSystemInfo.architecture":            "Architecture of the machine (amd64, arm64, ...).",
}
