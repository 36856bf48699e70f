package cluster

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Faults are test hooks that make one worker a zombie on demand. Cut
// takes the member off the network: it sends nothing, receives nothing and
// cannot dial (MembershipConfig.Faults). HoldConfig makes the worker's
// herder act on nothing it reads from the config topic: it keeps running
// the tasks of the assignment it applied last, as a worker whose config
// reads lag would (worker.DistributedConfig.Faults). Together they give a
// zombie that keeps committing under its old generation after the others
// moved its tasks. Its methods may be called at any time from any
// goroutine. The zero value is ready to use (no fault).
type Faults struct {
	cut  atomic.Bool
	hold atomic.Bool
}

// Cut isolates the member.
func (f *Faults) Cut() { f.cut.Store(true) }

// Heal ends the isolation.
func (f *Faults) Heal() { f.cut.Store(false) }

// IsCut reports whether the member is isolated.
func (f *Faults) IsCut() bool { return f.cut.Load() }

// HoldConfig stops the herder from acting on the config topic.
func (f *Faults) HoldConfig() { f.hold.Store(true) }

// ReleaseConfig lets the herder act on the config topic again.
func (f *Faults) ReleaseConfig() { f.hold.Store(false) }

// ConfigHeld reports whether config reads are held. A nil Faults holds
// nothing.
func (f *Faults) ConfigHeld() bool { return f != nil && f.hold.Load() }

var errCut = errors.New("cluster: member cut off by Faults")

// faultyTransport drops every packet and stream while its Faults is cut.
type faultyTransport struct {
	memberlist.NodeAwareTransport
	faults   *Faults
	packets  chan *memberlist.Packet
	streams  chan net.Conn
	shutdown chan struct{}
	wg       sync.WaitGroup
	once     sync.Once
}

func newFaultyTransport(t memberlist.NodeAwareTransport, f *Faults) *faultyTransport {
	ft := &faultyTransport{
		NodeAwareTransport: t,
		faults:             f,
		packets:            make(chan *memberlist.Packet),
		streams:            make(chan net.Conn),
		shutdown:           make(chan struct{}),
	}
	ft.wg.Add(2)
	go func() {
		defer ft.wg.Done()
		forward(ft, t.PacketCh(), ft.packets, func(*memberlist.Packet) {})
	}()
	go func() {
		defer ft.wg.Done()
		forward(ft, t.StreamCh(), ft.streams, func(c net.Conn) { _ = c.Close() })
	}()
	return ft
}

// forward passes items on unless cut, in which case it drops them.
func forward[T any](ft *faultyTransport, in <-chan T, out chan<- T, drop func(T)) {
	for {
		select {
		case v := <-in:
			if ft.faults.IsCut() {
				drop(v)
				continue
			}
			select {
			case out <- v:
			case <-ft.shutdown:
				drop(v)
				return
			}
		case <-ft.shutdown:
			return
		}
	}
}

func (ft *faultyTransport) PacketCh() <-chan *memberlist.Packet { return ft.packets }
func (ft *faultyTransport) StreamCh() <-chan net.Conn           { return ft.streams }

func (ft *faultyTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if ft.faults.IsCut() {
		return time.Now(), nil // lost on the wire, as UDP would be
	}
	return ft.NodeAwareTransport.WriteTo(b, addr)
}

func (ft *faultyTransport) WriteToAddress(b []byte, addr memberlist.Address) (time.Time, error) {
	if ft.faults.IsCut() {
		return time.Now(), nil
	}
	return ft.NodeAwareTransport.WriteToAddress(b, addr)
}

func (ft *faultyTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if ft.faults.IsCut() {
		return nil, errCut
	}
	return ft.NodeAwareTransport.DialTimeout(addr, timeout)
}

func (ft *faultyTransport) DialAddressTimeout(addr memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if ft.faults.IsCut() {
		return nil, errCut
	}
	return ft.NodeAwareTransport.DialAddressTimeout(addr, timeout)
}

func (ft *faultyTransport) Shutdown() error {
	err := ft.NodeAwareTransport.Shutdown()
	ft.once.Do(func() { close(ft.shutdown) })
	ft.wg.Wait()
	return err
}
