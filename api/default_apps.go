package api

// Defaults of apps/v1 Deployments (Kubernetes' SetDefaults_Deployment).

const (
	// DefaultDeploymentRevisionHistoryLimit is how many old ReplicaSets a
	// Deployment keeps when its spec names no limit.
	DefaultDeploymentRevisionHistoryLimit int32 = 10
	// DefaultDeploymentProgressDeadlineSeconds is how long a rollout may go
	// without progress before its Deployment says ProgressDeadlineExceeded.
	DefaultDeploymentProgressDeadlineSeconds int32 = 600
	// DefaultMaxSurge and DefaultMaxUnavailable bound a rolling update
	// whose spec names no bounds.
	DefaultMaxSurge       = "25%"
	DefaultMaxUnavailable = "25%"
)

func defaultDeployment(d *Deployment) {
	if d.Spec.Replicas == nil {
		d.Spec.Replicas = ptrTo(int32(1))
	}
	s := &d.Spec.Strategy
	if s.Type == "" {
		s.Type = RollingUpdateDeploymentStrategyType
	}
	if s.Type == RollingUpdateDeploymentStrategyType {
		if s.RollingUpdate == nil {
			s.RollingUpdate = &RollingUpdateDeployment{}
		}
		if s.RollingUpdate.MaxUnavailable == nil {
			s.RollingUpdate.MaxUnavailable = ptrTo(FromString(DefaultMaxUnavailable))
		}
		if s.RollingUpdate.MaxSurge == nil {
			s.RollingUpdate.MaxSurge = ptrTo(FromString(DefaultMaxSurge))
		}
	}
	if d.Spec.RevisionHistoryLimit == nil {
		d.Spec.RevisionHistoryLimit = ptrTo(DefaultDeploymentRevisionHistoryLimit)
	}
	if d.Spec.ProgressDeadlineSeconds == nil {
		d.Spec.ProgressDeadlineSeconds = ptrTo(DefaultDeploymentProgressDeadlineSeconds)
	}
	defaultPodSpec(&d.Spec.Template.Spec)
}
