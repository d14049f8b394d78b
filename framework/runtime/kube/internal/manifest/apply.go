package manifest

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// Applied is the server's answer to one apply.
type Applied struct {
	Object
	// ResourceVersion after the apply: unchanged when the apply changed
	// nothing.
	ResourceVersion string
	UID             types.UID
}

// Apply server-side applies every object in order with field manager
// "vecro", taking over fields another manager set (force), as `kubectl apply
// --server-side --force-conflicts` does. Applying the same objects again
// changes nothing: their resourceVersions stay the same.
func Apply(ctx context.Context, client dynamic.Interface, objs []Object) ([]Applied, error) {
	out := make([]Applied, 0, len(objs))
	for _, o := range objs {
		a, err := applyOne(ctx, client, o)
		if err != nil {
			return out, err
		}
		out = append(out, a)
	}
	return out, nil
}

func applyOne(ctx context.Context, client dynamic.Interface, o Object) (Applied, error) {
	var ri dynamic.ResourceInterface = client.Resource(o.GVR)
	if o.Namespace != "" {
		ri = client.Resource(o.GVR).Namespace(o.Namespace)
	}
	force := true
	u, err := ri.Patch(ctx, o.Name, types.ApplyPatchType, o.Body, metav1.PatchOptions{FieldManager: FieldManager, Force: &force})
	if err != nil {
		return Applied{}, fmt.Errorf("apply %s: %w", o, err)
	}
	return Applied{Object: o, ResourceVersion: u.GetResourceVersion(), UID: u.GetUID()}, nil
}
