// oauth2cc from Go through cgo: gets a token with the client credentials grant, then GETs an
// API with it. From the repository's root, after `cargo build --release --lib`:
//
//	cd examples/go
//	export CGO_LDFLAGS="-L$PWD/../../target/release -Wl,-rpath,$PWD/../../target/release"
//	OAUTH2CC_CLIENT_ID=... OAUTH2CC_CLIENT_SECRET=... OAUTH2CC_TOKEN_URL=https://.../token \
//	  go run . https://api.example.com/v1/me
//
// Prints the token's type and lifetime (never the token), then the API's status and body:
//
//	token: Bearer, expires in 3600 s
//	GET https://api.example.com/v1/me: 200
//	{"id":"me"}
//
// On failure: the failing call, the status name and the library's message on stderr, then
// the server's error and description when it sent them; exit status 1 (2 for bad usage).
// The same program as examples/node/get_token.js, line for line.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -loauth2cc
#include <stdlib.h>
#include "oauth2cc.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"unsafe"
)

// check turns a status into an error describing the failed call, from the last error of
// the calling OS thread: the library keeps it per thread, so the goroutine making the calls
// must stay on one OS thread (main locks it).
func check(call string, status C.enum_oauth2cc_status) error {
	if status == C.OAUTH2CC_STATUS_OK {
		return nil
	}
	text := fmt.Sprintf("%s: %s: %s", call, C.GoString(C.oauth2cc_status_str(C.int(status))),
		C.GoString(C.oauth2cc_last_error_message()))
	if oauthError := C.oauth2cc_last_error_oauth_error(); oauthError != nil {
		text += "\nserver said " + C.GoString(oauthError)
		if description := C.oauth2cc_last_error_description(); description != nil {
			text += ": " + C.GoString(description)
		}
	}
	return errors.New(text)
}

func run(url string) error {
	var config *C.oauth2cc_config
	if err := check("oauth2cc_config_from_env", C.oauth2cc_config_from_env(&config)); err != nil {
		return err
	}
	var client *C.oauth2cc_client
	err := check("oauth2cc_client_new", C.oauth2cc_client_new(config, &client))
	C.oauth2cc_config_free(config) // the client keeps its own copy
	if err != nil {
		return err
	}
	defer C.oauth2cc_client_free(client)

	var auth *C.oauth2cc_authorization
	if err := check("oauth2cc_client_token", C.oauth2cc_client_token(client, &auth)); err != nil {
		return err
	}
	fmt.Printf("token: %s, expires in %d s\n",
		C.GoString(C.oauth2cc_authorization_token_type(auth)),
		int64(C.oauth2cc_authorization_expires_in(auth)))
	C.oauth2cc_authorization_free(auth)

	cURL := C.CString(url)
	defer C.free(unsafe.Pointer(cURL))
	var response *C.oauth2cc_response
	if err := check("oauth2cc_client_get", C.oauth2cc_client_get(client, cURL, &response)); err != nil {
		return err
	}
	defer C.oauth2cc_response_free(response)
	var length C.size_t
	body := C.oauth2cc_response_body(response, &length)
	fmt.Printf("GET %s: %d\n", url, int32(C.oauth2cc_response_status(response)))
	fmt.Println(string(C.GoBytes(unsafe.Pointer(body), C.int(length))))
	return nil
}

func main() {
	runtime.LockOSThread() // oauth2cc_last_error_* read the failing call's thread
	if len(os.Args) != 2 || strings.HasPrefix(os.Args[1], "-") {
		fmt.Fprint(os.Stderr, "usage: go run . API_URL\n"+
			"  credentials from OAUTH2CC_CLIENT_ID, OAUTH2CC_CLIENT_SECRET, OAUTH2CC_TOKEN_URL\n")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
