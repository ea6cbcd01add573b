// Command etcd is etcd's own server main (go.etcd.io/etcd/server/v3/etcdmain),
// built at the etcd version that k8s.io/kubernetes itself requires, so the
// test cluster needs no etcd package from the OS (Debian bookworm's 3.4 is too
// old: watches fail with ResourceVersionTooLarge).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
