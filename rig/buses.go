package rig

import (
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spireg"
	"periph.io/x/host/v3"
)

// buses are what a backend gives the drivers: the SPI port of the fast ADC
// and its data-ready pin, the I²C bus of the slow ADC, DAC and PWM chips,
// and GPIO pins by name. The sim backend hands out emulated buses, the
// hardware backend the Pi's; the drivers above cannot tell.
type buses struct {
	spi   spi.Port
	i2c   i2c.Bus
	pin   func(name string) (gpio.PinIO, error)
	close func() error
}

var hostInit = sync.OnceValue(func() error {
	_, err := host.Init()
	return err
})

// hardwareBuses opens the Pi's buses named in the config. host.Init runs
// here, once, and only for the hardware backend.
func hardwareBuses(h Hardware) (*buses, error) {
	if err := hostInit(); err != nil {
		return nil, fmt.Errorf("rig: periph host: %w", err)
	}
	port, err := spireg.Open(h.SPI)
	if err != nil {
		return nil, fmt.Errorf("rig: SPI %s: %w", h.SPI, err)
	}
	bus, err := i2creg.Open(h.I2C)
	if err != nil {
		port.Close()
		return nil, fmt.Errorf("rig: I²C %s: %w", h.I2C, err)
	}
	return &buses{
		spi: port,
		i2c: bus,
		pin: func(name string) (gpio.PinIO, error) {
			p := gpioreg.ByName(name)
			if p == nil {
				return nil, fmt.Errorf("rig: no GPIO named %s on this board", name)
			}
			return p, nil
		},
		close: func() error { return errors.Join(port.Close(), bus.Close()) },
	}, nil
}
