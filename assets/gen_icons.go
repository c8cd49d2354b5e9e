//go:build ignore

// gen_icons draws the tray icons: go run assets/gen_icons.go (from the repo root).
package main

import (
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
)

const size = 64

type glyph func(x, y float64) bool // in [-1,1]²

func ring(r0, r1 float64) glyph {
	return func(x, y float64) bool { d := math.Hypot(x, y); return d >= r0 && d <= r1 }
}

func seg(x0, y0, x1, y1, w float64) glyph {
	return func(x, y float64) bool {
		dx, dy := x1-x0, y1-y0
		t := ((x-x0)*dx + (y-y0)*dy) / (dx*dx + dy*dy)
		t = math.Max(0, math.Min(1, t))
		return math.Hypot(x-(x0+t*dx), y-(y0+t*dy)) <= w
	}
}

func union(gs ...glyph) glyph {
	return func(x, y float64) bool {
		for _, g := range gs {
			if g(x, y) {
				return true
			}
		}
		return false
	}
}

func draw(name string, fill color.NRGBA, g glyph) {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	const ss = 4 // supersampling
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			var disc, mark float64
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					x := (float64(px)+(float64(sx)+0.5)/ss)/size*2 - 1
					y := (float64(py)+(float64(sy)+0.5)/ss)/size*2 - 1
					if math.Hypot(x, y) <= 0.94 {
						disc++
						if g(x, y) {
							mark++
						}
					}
				}
			}
			disc /= ss * ss
			mark /= ss * ss
			c := fill
			mix := func(a, b uint8) uint8 {
				return uint8(float64(a)*(1-mark/math.Max(disc, 1e-9)) + float64(b)*mark/math.Max(disc, 1e-9))
			}
			c.R, c.G, c.B = mix(fill.R, 255), mix(fill.G, 255), mix(fill.B, 255)
			c.A = uint8(255 * disc)
			img.SetNRGBA(px, py, c)
		}
	}
	f, err := os.Create("assets/icons/" + name + ".png")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		log.Fatal(err)
	}
}

func main() {
	w := 0.11
	draw("tray-ok", color.NRGBA{0x10, 0x7c, 0x10, 255}, union(seg(-0.45, 0.02, -0.12, 0.35, w), seg(-0.12, 0.35, 0.48, -0.3, w)))
	draw("tray-warning", color.NRGBA{0xc1, 0x7a, 0x00, 255}, union(seg(0, -0.5, 0, 0.12, w), seg(0, 0.4, 0, 0.42, w*1.2)))
	draw("tray-error", color.NRGBA{0xc4, 0x2b, 0x1c, 255}, union(seg(-0.38, -0.38, 0.38, 0.38, w), seg(-0.38, 0.38, 0.38, -0.38, w)))
	draw("tray-sync", color.NRGBA{0x00, 0x5a, 0x9e, 255}, union(ring(0.36, 0.52), seg(0.44, -0.05, 0.62, -0.3, w*0.8), seg(0.44, -0.05, 0.2, -0.2, w*0.8)))
	draw("app", color.NRGBA{0x1f, 0x3a, 0x5f, 255}, union(seg(-0.5, -0.35, 0.5, -0.35, w*0.7), seg(-0.5, 0, 0.5, 0, w*0.7), seg(-0.5, 0.35, 0.2, 0.35, w*0.7)))
}
