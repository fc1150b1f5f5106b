"""Production deployment: the Kubernetes executor's configuration (deploy/kubernetes/ holds
the manifests and Helm values that go with it; docs/scaling.md explains both)."""
