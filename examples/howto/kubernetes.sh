#!/usr/bin/env bash
# The commands of docs/howto/kubernetes.rst, one step between each
# [start NAME] and [end NAME] marker, run from the checkout, with the files
# of examples/kubernetes/.  tests/integration/test_howtos.py runs the check
# and checks the form of the commands that need a cluster.

# [start check]
.venv/bin/python -c 'import sys, yaml; sys.stdout.write(yaml.safe_load(open(sys.argv[1]))["data"]["reverse.toml"])' \
    examples/kubernetes/configmap.yaml > "${TMPDIR:-/tmp}/proxykit-configmap.toml"
.venv/bin/proxykit check --mode reverse "${TMPDIR:-/tmp}/proxykit-configmap.toml"
# [end check]

# [start deploy]
docker build -f examples/kubernetes/Dockerfile -t proxykit:latest .
kubectl apply -f examples/kubernetes/
kubectl rollout status deployment/proxykit
# [end deploy]

# [start verify]
kubectl port-forward service/proxykit 8080:80 &
curl -H 'Host: www.example.com' http://127.0.0.1:8080/
kubectl logs deployment/proxykit --tail 1
# [end verify]
