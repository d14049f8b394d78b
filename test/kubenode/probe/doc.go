// Command probe is the offline node's test program, packed into an image
// by test/kubenode:
//
//	probe serve [ADDR]  answers every HTTP request on ADDR (default :8080)
//	                    with "pod=<hostname>", the pod's name, so that an
//	                    answer proves which pod it came from; /healthz too.
//	probe get URL       resolves URL's host through the pod's DNS (the
//	                    cluster's CoreDNS), GETs it, prints the body and
//	                    exits 0 only on 200 with a "pod=" body.
package main
