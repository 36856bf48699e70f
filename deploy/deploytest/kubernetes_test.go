package deploytest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// manifests is one directory of deploy/kubernetes, decoded.
type manifests struct {
	statefulSets []*appsv1.StatefulSet
	services     []*corev1.Service
	configMaps   map[string]*corev1.ConfigMap
	pdbs         []*policyv1.PodDisruptionBudget
}

// decodeManifests decodes every document of the directory's YAML files
// strictly into the typed objects of k8s.io/api: a field the API does not
// have, a duplicate field or a value of the wrong type (a quantity, a port)
// is an error, as the API server's strict field validation
// (kubectl apply --validate=strict) makes it.
func decodeManifests(dir string) (*manifests, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no manifests in %s (%v)", dir, err)
	}
	m := &manifests{configMaps: map[string]*corev1.ConfigMap{}}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(b), -1) {
			if err := m.add([]byte(doc)); err != nil {
				return nil, fmt.Errorf("%s document %d: %w", f, i+1, err)
			}
		}
	}
	return m, nil
}

func (m *manifests) add(doc []byte) error {
	var head metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return err
	}
	var obj interface{ GetName() string }
	switch head.APIVersion + "/" + head.Kind {
	case "apps/v1/StatefulSet":
		s := &appsv1.StatefulSet{}
		m.statefulSets, obj = append(m.statefulSets, s), s
	case "v1/Service":
		s := &corev1.Service{}
		m.services, obj = append(m.services, s), s
	case "v1/ConfigMap":
		c := &corev1.ConfigMap{}
		obj = c
		defer func() { m.configMaps[c.Name] = c }()
	case "policy/v1/PodDisruptionBudget":
		p := &policyv1.PodDisruptionBudget{}
		m.pdbs, obj = append(m.pdbs, p), p
	default:
		return fmt.Errorf("unexpected kind %s %s", head.APIVersion, head.Kind)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return err
	}
	if errs := validation.IsDNS1123Subdomain(obj.GetName()); len(errs) > 0 {
		return fmt.Errorf("name %q: %v", obj.GetName(), errs)
	}
	return nil
}

func selects(t *testing.T, sel *metav1.LabelSelector, pod map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatal(err)
	}
	return !s.Empty() && s.Matches(labels.Set(pod))
}

// operationsSecrets are the Secrets docs/operations.md tells to create;
// the manifests ship none (a placeholder key or token would be used).
func operationsSecrets(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, m := range regexp.MustCompile(`kubectl create secret generic ([a-z0-9-]+)`).FindAllStringSubmatch(string(readRepo(t, "docs", "operations.md")), -1) {
		out[m[1]] = true
	}
	return out
}

var envRef = regexp.MustCompile(`\$\(([A-Z_]+)\)`)

// checkWorkload checks what the API server does not: the StatefulSet's
// parts refer to each other and to the image and binary correctly. It
// returns the container's flags by name.
func checkWorkload(t *testing.T, m *manifests, sub string) (*appsv1.StatefulSet, map[string]string) {
	t.Helper()
	if len(m.statefulSets) != 1 {
		t.Fatalf("%d StatefulSets, want 1", len(m.statefulSets))
	}
	ss := m.statefulSets[0]
	pod := ss.Spec.Template
	if !selects(t, ss.Spec.Selector, pod.Labels) {
		t.Errorf("StatefulSet %s: selector does not select its pods", ss.Name)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]

	// Security: the image's user, non-root, nothing to escalate to.
	img := dockerImage(t)
	psc, csc := pod.Spec.SecurityContext, c.SecurityContext
	uid, _, _ := strings.Cut(img.user, ":")
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || fmt.Sprint(*psc.RunAsUser) != uid {
		t.Errorf("pod securityContext: want runAsNonRoot and runAsUser %s (the image's USER)", uid)
	}
	if csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
		csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem || csc.Capabilities == nil || fmt.Sprint(csc.Capabilities.Drop) != "[ALL]" {
		t.Errorf("container securityContext: want no privilege escalation, a read-only root and no capabilities")
	}

	// Arguments: a ferry subcommand, its flags, defined variables.
	if len(c.Args) == 0 || c.Args[0] != sub {
		t.Fatalf("args %v: want ferry %s", c.Args, sub)
	}
	checkArgs(t, "container args", sub, c.Args[1:])
	envs := map[string]bool{}
	for _, e := range c.Env {
		envs[e.Name] = true
	}
	flags := map[string]string{}
	for _, a := range c.Args[1:] {
		k, v, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		flags[k] = v
		for _, ref := range envRef.FindAllStringSubmatch(a, -1) {
			if !envs[ref[1]] {
				t.Errorf("arg %s: $(%s) is not in the container's env", a, ref[1])
			}
		}
	}

	// Mounts: every mount has a volume (or claim); ConfigMaps exist;
	// Secrets are the ones docs/operations.md creates.
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		vols[v.Name] = v
	}
	for _, pvc := range ss.Spec.VolumeClaimTemplates {
		vols[pvc.Name] = corev1.Volume{Name: pvc.Name}
	}
	mounts := map[string]bool{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.MountPath] = true
		if _, ok := vols[vm.Name]; !ok {
			t.Errorf("mount %s: no volume %s", vm.MountPath, vm.Name)
		}
	}
	if !mounts["/tmp"] {
		t.Error("a read-only root needs /tmp mounted")
	}
	secrets := operationsSecrets(t)
	for _, v := range pod.Spec.Volumes {
		if v.ConfigMap != nil && m.configMaps[v.ConfigMap.Name] == nil {
			t.Errorf("volume %s: no ConfigMap %s here", v.Name, v.ConfigMap.Name)
		}
		if v.Secret != nil && !secrets[v.Secret.SecretName] {
			t.Errorf("volume %s: docs/operations.md does not create Secret %s", v.Name, v.Secret.SecretName)
		}
	}
	for _, vol := range img.volumes {
		if !mounts[vol] {
			t.Errorf("the image's VOLUME %s is not mounted", vol)
		}
	}

	// Ports and probes: /health on a named port of the container.
	ports := map[string]corev1.Protocol{}
	for _, p := range c.Ports {
		ports[p.Name] = p.Protocol
	}
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != "/health" || ports[p.HTTPGet.Port.StrVal] == "" {
			t.Errorf("%s probe: want GET /health on a named container port", name)
		} else if p.TimeoutSeconds <= 10 {
			t.Errorf("%s probe: timeoutSeconds %d, but /health may take 10 s before it answers 500", name, p.TimeoutSeconds)
		}
	}

	// Services select these pods and reach named ports.
	for _, svc := range m.services {
		if !selects(t, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, pod.Labels) {
			t.Errorf("Service %s selects no pod of %s", svc.Name, ss.Name)
		}
		for _, p := range svc.Spec.Ports {
			if ports[p.TargetPort.StrVal] != p.Protocol {
				t.Errorf("Service %s port %s: no %s container port named %q", svc.Name, p.Name, p.Protocol, p.TargetPort.StrVal)
			}
		}
	}
	if svc := m.service(ss.Spec.ServiceName); svc == nil {
		t.Errorf("serviceName %s: no such Service", ss.Spec.ServiceName)
	}

	// Resources: requested from the measured idle RSS (~27 MB) up.
	req, lim := c.Resources.Requests.Memory(), c.Resources.Limits.Memory()
	if req.Cmp(resource.MustParse("64Mi")) < 0 || lim.Cmp(*req) < 0 || c.Resources.Requests.Cpu().IsZero() {
		t.Errorf("resources %v: want memory requests ≥ 64Mi, limits ≥ requests, a CPU request", c.Resources)
	}
	return ss, flags
}

func (m *manifests) service(name string) *corev1.Service {
	for _, s := range m.services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// allowedHosts checks that --rest-allowed-hosts lists the REST Service's
// DNS names (the worker answers 421 to others).
func allowedHosts(t *testing.T, flags map[string]string, svc string) {
	t.Helper()
	hosts := "," + flags["rest-allowed-hosts"] + ","
	for _, h := range []string{svc, svc + ".$(POD_NAMESPACE)", svc + ".$(POD_NAMESPACE).svc", svc + ".$(POD_NAMESPACE).svc.cluster.local"} {
		if !strings.Contains(hosts, ","+h+",") {
			t.Errorf("--rest-allowed-hosts lacks %s", h)
		}
	}
}

// TestKubernetesCluster: the cluster manifests decode strictly and fit
// together: a headless gossip Service publishing not-ready pods that
// --join names, per-pod addresses from the pod IP, the shared flags in
// the ConfigMap (all of them `ferry worker` flags), the gossip key and the
// REST tokens from Secret files, a grace period longer than a drain, and a
// PodDisruptionBudget over the workers.
func TestKubernetesCluster(t *testing.T) {
	t.Parallel()
	m, err := decodeManifests(repoPath("deploy", "kubernetes", "cluster"))
	if err != nil {
		t.Fatal(err)
	}
	ss, flags := checkWorkload(t, m, "worker")

	gossip := m.service(ss.Spec.ServiceName)
	if gossip == nil || gossip.Spec.ClusterIP != corev1.ClusterIPNone || !gossip.Spec.PublishNotReadyAddresses {
		t.Fatalf("serviceName %s: want a headless Service publishing not-ready addresses", ss.Spec.ServiceName)
	}
	for k, want := range map[string]string{"worker-id": "$(POD_NAME)", "listen": "$(POD_IP):8083", "gossip": "$(POD_IP):7946"} {
		if flags[k] != want {
			t.Errorf("--%s=%q, want %q", k, flags[k], want)
		}
	}
	rest := m.service("ferry")
	if rest == nil || rest.Spec.ClusterIP == corev1.ClusterIPNone {
		t.Fatal("no REST Service ferry")
	}
	allowedHosts(t, flags, rest.Name)

	// The config file: the mounted ConfigMap key, flags of ferry worker.
	cfgPath := flags["config"]
	var cfg map[string]any
	found := false
	for _, vm := range ss.Spec.Template.Spec.Containers[0].VolumeMounts {
		rel, err := filepath.Rel(vm.MountPath, cfgPath)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		for _, v := range ss.Spec.Template.Spec.Volumes {
			if v.Name == vm.Name && v.ConfigMap != nil && m.configMaps[v.ConfigMap.Name] != nil {
				if data, ok := m.configMaps[v.ConfigMap.Name].Data[rel]; ok {
					found = true
					if err := yaml.UnmarshalStrict([]byte(data), &cfg); err != nil {
						t.Fatalf("%s: %v", cfgPath, err)
					}
				}
			}
		}
	}
	if !found {
		t.Fatalf("--config=%s is no mounted ConfigMap key", cfgPath)
	}
	known := ferryFlags(t, "worker")
	for k := range cfg {
		if !known[k] {
			t.Errorf("%s: ferry worker has no flag --%s", cfgPath, k)
		}
	}
	if cfg["data-dir"] != dockerImage(t).volumes[0] {
		t.Errorf("data-dir %v is not the image's volume", cfg["data-dir"])
	}
	if join := fmt.Sprint(cfg["join"]); join != fmt.Sprintf("[%s:%d]", gossip.Name, gossip.Spec.Ports[0].Port) {
		t.Errorf("join %s: want the headless Service %s and its gossip port", join, gossip.Name)
	}
	for _, k := range []string{"gossip-key-file", "rest-auth-tokens"} {
		if !underSecret(ss, fmt.Sprint(cfg[k])) {
			t.Errorf("%s %v: not a file of a mounted Secret", k, cfg[k])
		}
	}
	if cfg["rest-auth"] != "token" {
		t.Errorf("rest-auth %v, want token", cfg["rest-auth"])
	}
	drain, err := time.ParseDuration(fmt.Sprint(cfg["drain-timeout"]))
	if err != nil {
		t.Fatal(err)
	}
	if grace := time.Duration(*ss.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second; grace < drainBudget(drain) {
		t.Errorf("terminationGracePeriodSeconds %v: a drain may take %v", grace, drainBudget(drain))
	}

	if len(m.pdbs) != 1 || !selects(t, m.pdbs[0].Spec.Selector, ss.Spec.Template.Labels) ||
		m.pdbs[0].Spec.MaxUnavailable == nil || m.pdbs[0].Spec.MaxUnavailable.IntValue() != 1 {
		t.Error("want one PodDisruptionBudget over the workers with maxUnavailable 1")
	}
	if *ss.Spec.Replicas < 3 {
		t.Errorf("%d replicas: a cluster that survives the loss of one worker needs 3", *ss.Spec.Replicas)
	}
}

func underSecret(ss *appsv1.StatefulSet, path string) bool {
	for _, vm := range ss.Spec.Template.Spec.Containers[0].VolumeMounts {
		if filepath.Dir(path) != vm.MountPath {
			continue
		}
		for _, v := range ss.Spec.Template.Spec.Volumes {
			if v.Name == vm.Name && v.Secret != nil {
				return true
			}
		}
	}
	return false
}

// TestKubernetesStandalone: one standalone worker whose data dir is a
// PersistentVolumeClaim, with token authentication from a Secret.
func TestKubernetesStandalone(t *testing.T) {
	t.Parallel()
	m, err := decodeManifests(repoPath("deploy", "kubernetes", "standalone"))
	if err != nil {
		t.Fatal(err)
	}
	ss, flags := checkWorkload(t, m, "standalone")
	if *ss.Spec.Replicas != 1 {
		t.Errorf("%d replicas: a standalone store is one process's", *ss.Spec.Replicas)
	}
	claims := map[string]bool{}
	for _, pvc := range ss.Spec.VolumeClaimTemplates {
		claims[pvc.Name] = true
	}
	data := false
	for _, vm := range ss.Spec.Template.Spec.Containers[0].VolumeMounts {
		if vm.MountPath == flags["data-dir"] && claims[vm.Name] {
			data = true
		}
	}
	if !data {
		t.Errorf("--data-dir=%s is not on a volumeClaimTemplate", flags["data-dir"])
	}
	if flags["rest-auth"] != "token" || !underSecret(ss, flags["rest-auth-tokens"]) {
		t.Error("want --rest-auth=token with tokens from a mounted Secret")
	}
	allowedHosts(t, flags, "ferry-standalone")
	if grace := time.Duration(*ss.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second; grace < drainBudget(0) {
		t.Errorf("terminationGracePeriodSeconds %v: stopping may take %v", grace, drainBudget(0))
	}
}

// TestStrictDecodingCatches: the decoding above refuses what kubectl's
// strict validation refuses.
func TestStrictDecodingCatches(t *testing.T) {
	t.Parallel()
	ss, err := os.ReadFile(repoPath("deploy", "kubernetes", "cluster", "statefulset.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][2]string{
		{"terminationGracePeriodSeconds: 75", "terminationGracePeriodSecond: 75"}, // unknown field
		{"memory: 128Mi", "memory: 128Mbytes"},                                    // bad quantity
		{"replicas: 3", "replicas: three"},                                        // wrong type
		{"  name: ferry\n", "  name: Ferry_Worker\n"},                             // bad name
		{"kind: StatefulSet", "kind: StatefulSets"},                               // unknown kind
	} {
		doc := bytes.Replace(ss, []byte(bad[0]), []byte(bad[1]), 1)
		if bytes.Equal(doc, ss) {
			t.Fatalf("%q not in statefulset.yaml", bad[0])
		}
		if err := (&manifests{configMaps: map[string]*corev1.ConfigMap{}}).add(doc); err == nil {
			t.Errorf("%s → %s: decoded without error", bad[0], bad[1])
		}
	}
}
