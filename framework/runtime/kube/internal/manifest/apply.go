package manifest

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// Applied is the server's answer to one apply.
type Applied struct {
	Object
	// ResourceVersion after the apply: unchanged when the apply changed
	// nothing.
	ResourceVersion string
	UID             types.UID
}

// Clients reach the cluster: the typed clientset for every built-in kind,
// the dynamic client for the ServiceMonitor, a custom resource that
// client-go has no typed client for.
type Clients struct {
	Typed   kubernetes.Interface
	Dynamic dynamic.Interface
}

// Apply server-side applies every object in order with field manager
// "vecro", taking over fields another manager set (force), as `kubectl apply
// --server-side --force-conflicts` does. Applying the same objects again
// changes nothing: their resourceVersions stay the same.
func Apply(ctx context.Context, c Clients, objs []Object) ([]Applied, error) {
	out := make([]Applied, 0, len(objs))
	for _, o := range objs {
		got, err := apply(ctx, c, o)
		if err != nil {
			return out, fmt.Errorf("apply %s: %w", o, err)
		}
		out = append(out, Applied{Object: o, ResourceVersion: got.GetResourceVersion(), UID: got.GetUID()})
	}
	return out, nil
}

func apply(ctx context.Context, c Clients, o Object) (metav1.Object, error) {
	opts := metav1.ApplyOptions{FieldManager: FieldManager, Force: true}
	cs, ns := c.Typed, o.Namespace
	switch ac := o.config.(type) {
	case *corev1ac.NamespaceApplyConfiguration:
		return typed(cs.CoreV1().Namespaces().Apply(ctx, ac, opts))
	case *corev1ac.SecretApplyConfiguration:
		return typed(cs.CoreV1().Secrets(ns).Apply(ctx, ac, opts))
	case *corev1ac.ServiceApplyConfiguration:
		return typed(cs.CoreV1().Services(ns).Apply(ctx, ac, opts))
	case *corev1ac.ServiceAccountApplyConfiguration:
		return typed(cs.CoreV1().ServiceAccounts(ns).Apply(ctx, ac, opts))
	case *corev1ac.ConfigMapApplyConfiguration:
		return typed(cs.CoreV1().ConfigMaps(ns).Apply(ctx, ac, opts))
	case *appsv1ac.DeploymentApplyConfiguration:
		return typed(cs.AppsV1().Deployments(ns).Apply(ctx, ac, opts))
	case *rbacv1ac.RoleApplyConfiguration:
		return typed(cs.RbacV1().Roles(ns).Apply(ctx, ac, opts))
	case *rbacv1ac.RoleBindingApplyConfiguration:
		return typed(cs.RbacV1().RoleBindings(ns).Apply(ctx, ac, opts))
	case *rbacv1ac.ClusterRoleApplyConfiguration:
		return typed(cs.RbacV1().ClusterRoles().Apply(ctx, ac, opts))
	case *rbacv1ac.ClusterRoleBindingApplyConfiguration:
		return typed(cs.RbacV1().ClusterRoleBindings().Apply(ctx, ac, opts))
	}
	force := true
	return typed(dynamicResource(c.Dynamic, o).Patch(ctx, o.Name, types.ApplyPatchType, o.Body, metav1.PatchOptions{FieldManager: FieldManager, Force: &force}))
}

// Delete deletes one object of a manifest; NotFound is the caller's to
// judge.
func Delete(ctx context.Context, c Clients, o Object, opts metav1.DeleteOptions) error {
	cs, ns := c.Typed, o.Namespace
	switch o.config.(type) {
	case *corev1ac.NamespaceApplyConfiguration:
		return cs.CoreV1().Namespaces().Delete(ctx, o.Name, opts)
	case *corev1ac.SecretApplyConfiguration:
		return cs.CoreV1().Secrets(ns).Delete(ctx, o.Name, opts)
	case *corev1ac.ServiceApplyConfiguration:
		return cs.CoreV1().Services(ns).Delete(ctx, o.Name, opts)
	case *corev1ac.ServiceAccountApplyConfiguration:
		return cs.CoreV1().ServiceAccounts(ns).Delete(ctx, o.Name, opts)
	case *corev1ac.ConfigMapApplyConfiguration:
		return cs.CoreV1().ConfigMaps(ns).Delete(ctx, o.Name, opts)
	case *appsv1ac.DeploymentApplyConfiguration:
		return cs.AppsV1().Deployments(ns).Delete(ctx, o.Name, opts)
	case *rbacv1ac.RoleApplyConfiguration:
		return cs.RbacV1().Roles(ns).Delete(ctx, o.Name, opts)
	case *rbacv1ac.RoleBindingApplyConfiguration:
		return cs.RbacV1().RoleBindings(ns).Delete(ctx, o.Name, opts)
	case *rbacv1ac.ClusterRoleApplyConfiguration:
		return cs.RbacV1().ClusterRoles().Delete(ctx, o.Name, opts)
	case *rbacv1ac.ClusterRoleBindingApplyConfiguration:
		return cs.RbacV1().ClusterRoleBindings().Delete(ctx, o.Name, opts)
	}
	return dynamicResource(c.Dynamic, o).Delete(ctx, o.Name, opts)
}

// dynamicResource is the dynamic client of o's resource (and namespace).
func dynamicResource(client dynamic.Interface, o Object) dynamic.ResourceInterface {
	if o.Namespace != "" {
		return client.Resource(o.GVR).Namespace(o.Namespace)
	}
	return client.Resource(o.GVR)
}

// typed hands a typed client's answer over as its metadata.
func typed[T metav1.Object](obj T, err error) (metav1.Object, error) {
	if err != nil {
		return nil, err
	}
	return obj, nil
}
