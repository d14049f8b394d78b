// Package statusline keeps one live line of progress at the bottom of a
// terminal, redrawn in place, and stays silent anywhere else: a CI log or a
// file gets only the lines its caller prints for good.
//
// The experiment's, the campaign's and vecro load's progress all draw
// through it, so that they agree on what a terminal is and on how a line is
// cleared before ordinary output, which would otherwise land in the middle
// of it.
package statusline

import (
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"golang.org/x/term"
)

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Line is the live line on w. Its zero value, and a Line on a writer that is
// not a terminal, draw nothing; Println still prints. A Line is not safe for
// concurrent use: its owner serialises calls.
type Line struct {
	w     io.Writer
	tty   bool
	cols  int // the terminal's width, 0 when unknown
	shown int // the runes on screen, to clear them
}

// New returns the live line of w (nil: nowhere).
func New(w io.Writer) *Line {
	l := &Line{w: w, tty: IsTerminal(w)}
	if l.tty {
		if cols, _, err := term.GetSize(int(w.(*os.File).Fd())); err == nil {
			l.cols = cols
		}
	}
	return l
}

// Live reports whether the line is drawn: w is a terminal.
func (l *Line) Live() bool { return l.tty }

// Show replaces the line with s, cut to the terminal's width.
func (l *Line) Show(s string) {
	if !l.tty {
		return
	}
	if l.cols > 1 {
		s = Clip(s, l.cols-1)
	}
	l.Clear()
	fmt.Fprint(l.w, s)
	l.shown = utf8.RuneCountInString(s)
}

// Clear takes the line off the screen.
func (l *Line) Clear() {
	if l.tty && l.shown > 0 {
		fmt.Fprint(l.w, "\r"+strings.Repeat(" ", l.shown)+"\r")
		l.shown = 0
	}
}

// Println prints s as a line of its own, terminal or not, clearing the live
// line first; the caller shows it again if it wants it back.
func (l *Line) Println(s string) {
	if l.w == nil {
		return
	}
	l.Clear()
	fmt.Fprintln(l.w, s)
}

// Clip cuts s to n runes (a terminal's columns, near enough), marking the
// cut.
func Clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 1 {
		return string(r[:max(n, 0)])
	}
	return string(r[:n-1]) + "…"
}
