package pages

// vmPool keeps up to cap(idle) page VMs for reuse. Unlike PocketBase's hooks
// pool it is filled lazily (an app that serves no page builds no page VM)
// and a VM is only returned after its render finished cleanly; a VM that
// saw a Go panic is dropped, not reused.
type vmPool struct {
	idle  chan *pageVM
	build func() *pageVM
}

func newVMPool(size int, build func() *pageVM) *vmPool {
	return &vmPool{idle: make(chan *pageVM, size), build: build}
}

// get returns an idle VM or builds a new one; it never blocks.
func (p *vmPool) get() *pageVM {
	select {
	case vm := <-p.idle:
		return vm
	default:
		return p.build()
	}
}

// put returns a healthy VM; beyond the pool size it is dropped.
func (p *vmPool) put(vm *pageVM) {
	select {
	case p.idle <- vm:
	default:
	}
}
