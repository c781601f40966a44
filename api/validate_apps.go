package api

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

// Validation of apps/v1 Deployments, with Kubernetes' rules and messages
// (pkg/apis/apps/validation ValidateDeployment and ValidateDeploymentUpdate).

func validateDeployment(d *Deployment) ErrorList {
	errs := validateObjectMeta(&d.ObjectMeta, true, nameIsDNSSubdomain)
	return append(errs, validateDeploymentSpec(&d.Spec, "spec")...)
}

// validateDeploymentUpdate adds to the checks of a new Deployment that its
// selector is the stored one's: apps/v1 makes it immutable.
func validateDeploymentUpdate(n, o *Deployment) ErrorList {
	if !reflect.DeepEqual(n.Spec.Selector, o.Spec.Selector) {
		return ErrorList{Invalid("spec.selector", n.Spec.Selector, "field is immutable")}
	}
	return nil
}

func validateDeploymentSpec(s *DeploymentSpec, p string) ErrorList {
	var errs ErrorList
	if s.Replicas != nil && *s.Replicas < 0 {
		errs = append(errs, Invalid(p+".replicas", int64(*s.Replicas), "must be greater than or equal to 0"))
	}
	if s.Selector == nil {
		errs = append(errs, Required(p+".selector", ""))
	} else {
		errs = append(errs, validateLabelSelector(s.Selector, p+".selector")...)
		if len(s.Selector.MatchLabels)+len(s.Selector.MatchExpressions) == 0 {
			errs = append(errs, Invalid(p+".selector", s.Selector, "empty selector is invalid for deployment"))
		}
	}
	if sel, err := LabelSelectorAsSelector(s.Selector); err != nil {
		errs = append(errs, Invalid(p+".selector", s.Selector, "invalid label selector"))
	} else {
		// Kubernetes checks a Deployment's template with the ReplicaSet's
		// rules, and names ReplicaSet in their messages.
		errs = append(errs, validateTemplate(&s.Template, sel, p+".template", "ReplicaSet")...)
	}
	errs = append(errs, validateDeploymentStrategy(&s.Strategy, p+".strategy")...)
	if s.MinReadySeconds < 0 {
		errs = append(errs, Invalid(p+".minReadySeconds", int64(s.MinReadySeconds), "must be greater than or equal to 0"))
	}
	if s.RevisionHistoryLimit != nil && *s.RevisionHistoryLimit < 0 {
		errs = append(errs, Invalid(p+".revisionHistoryLimit", int64(*s.RevisionHistoryLimit), "must be greater than or equal to 0"))
	}
	if pd := s.ProgressDeadlineSeconds; pd != nil {
		if *pd < 0 {
			errs = append(errs, Invalid(p+".progressDeadlineSeconds", int64(*pd), "must be greater than or equal to 0"))
		}
		if *pd <= s.MinReadySeconds {
			errs = append(errs, Invalid(p+".progressDeadlineSeconds", *pd, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

func validateDeploymentStrategy(s *DeploymentStrategy, p string) ErrorList {
	switch s.Type {
	case RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			return ErrorList{Forbidden(p+".rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")}
		}
	case RollingUpdateDeploymentStrategyType:
		if s.RollingUpdate == nil {
			return ErrorList{Required(p+".rollingUpdate", "this should be defaulted and never be nil")}
		}
		return validateRollingUpdateDeployment(s.RollingUpdate, p+".rollingUpdate")
	default:
		return ErrorList{NotSupported(p+".type", s.Type, []string{string(RecreateDeploymentStrategyType), string(RollingUpdateDeploymentStrategyType)})}
	}
	return nil
}

func validateRollingUpdateDeployment(r *RollingUpdateDeployment, p string) ErrorList {
	var errs ErrorList
	errs = append(errs, validateNonnegativeIntOrPercent(r.MaxUnavailable, p+".maxUnavailable")...)
	errs = append(errs, validateNonnegativeIntOrPercent(r.MaxSurge, p+".maxSurge")...)
	if intOrPercentValue(r.MaxUnavailable) == 0 && intOrPercentValue(r.MaxSurge) == 0 {
		errs = append(errs, Invalid(p+".maxUnavailable", badIntOrString(r.MaxUnavailable), "may not be 0 when `maxSurge` is 0"))
	}
	if v, percent := percentValue(r.MaxUnavailable); percent && v > 100 {
		errs = append(errs, Invalid(p+".maxUnavailable", badIntOrString(r.MaxUnavailable), "must not be greater than 100%"))
	}
	return errs
}

var percentRe = regexp.MustCompile(`^[0-9]+%$`)

func validateNonnegativeIntOrPercent(v *IntOrString, p string) ErrorList {
	if v == nil {
		return nil
	}
	switch v.Type {
	case String:
		if !percentRe.MatchString(v.StrVal) {
			return ErrorList{Invalid(p, badIntOrString(v), regexError("a valid percent string must be a numeric string followed by an ending '%'", "[0-9]+%", "1%", "93%"))}
		}
	case Int:
		if v.IntVal < 0 {
			return ErrorList{Invalid(p, int64(v.IntVal), "must be greater than or equal to 0")}
		}
	}
	return nil
}

// intOrStringBadValue prints an IntOrString in an error as Kubernetes does:
// its intstr type has String on the pointer only, so the value prints in
// Go syntax.
type intOrStringBadValue IntOrString

func badIntOrString(v *IntOrString) any {
	if v == nil {
		return nil
	}
	return intOrStringBadValue(*v)
}

func (v intOrStringBadValue) String() string {
	return fmt.Sprintf("intstr.IntOrString{Type:%d, IntVal:%d, StrVal:%q}", v.Type, v.IntVal, v.StrVal)
}

// intOrPercentValue is the number in v, a percentage's without its sign; 0
// for nil and for what does not parse (validated apart).
func intOrPercentValue(v *IntOrString) int {
	if v == nil {
		return 0
	}
	if v.Type == Int {
		return int(v.IntVal)
	}
	n, _ := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
	return n
}

func percentValue(v *IntOrString) (int, bool) {
	if v == nil || v.Type != String || !strings.HasSuffix(v.StrVal, "%") {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
	return n, err == nil
}

// ScaledValueFromIntOrPercent is v as a count out of total: an integer as
// it is, a percentage of total rounded up or down (Kubernetes'
// GetScaledValueFromIntOrPercent).
func ScaledValueFromIntOrPercent(v *IntOrString, total int, roundUp bool) (int, error) {
	if v == nil {
		return 0, errors.New("nil value for IntOrString")
	}
	if v.Type == Int {
		return int(v.IntVal), nil
	}
	if !strings.HasSuffix(v.StrVal, "%") {
		return 0, errors.New("invalid value for IntOrString: invalid type: string is not a percentage")
	}
	n, err := strconv.Atoi(strings.TrimSuffix(v.StrVal, "%"))
	if err != nil {
		return 0, fmt.Errorf("invalid value for IntOrString: invalid value %q: %v", v.StrVal, err)
	}
	scaled := int64(n) * int64(total)
	if roundUp && scaled > 0 {
		return int((scaled + 99) / 100), nil
	}
	return int(scaled / 100), nil
}
