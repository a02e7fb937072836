package gojax

import (
	"github.com/dop251/goja"
	"github.com/dop251/goja_nodejs/buffer"
	"github.com/dop251/goja_nodejs/console"
	"github.com/dop251/goja_nodejs/process"
	"github.com/dop251/goja_nodejs/require"
	"github.com/pocketbase/pocketbase/core"
	pbjsvm "github.com/pocketbase/pocketbase/plugins/jsvm"
)

// NewHooksLikeVM returns a VM with exactly the globals PocketBase gives its
// pb_hooks executors (plugins/jsvm registerHooks: require, console, process,
// Buffer, $app, $apis, $security, $os, $http, $mails, $dbx, ...), so code in
// a page or an onAnonymousLink handler sees what a hook sees. PocketBase's
// own pool is unexported; its Bind* functions are not.
//
// hooksDir and templates are the __hooks and $template values (nil: unset).
// The caller adds its own globals (OnInit) afterwards.
func NewHooksLikeVM(app core.App, requireRegistry *require.Registry, hooksDir, templates any) *goja.Runtime {
	vm := goja.New()
	requireRegistry.Enable(vm)
	console.Enable(vm)
	process.Enable(vm)
	buffer.Enable(vm)

	pbjsvm.BindCore(vm) // also sets PocketBase's field name mapper
	pbjsvm.BindDbx(vm)
	pbjsvm.BindSecurity(vm)
	pbjsvm.BindOS(vm)
	pbjsvm.BindFilepath(vm)
	pbjsvm.BindHTTP(vm)
	pbjsvm.BindFilesystem(vm)
	pbjsvm.BindForms(vm)
	pbjsvm.BindMails(vm)
	pbjsvm.BindApis(vm)

	vm.Set("$app", app)
	if hooksDir != nil {
		vm.Set("__hooks", hooksDir)
	}
	if templates != nil {
		vm.Set("$template", templates)
	}
	return vm
}
