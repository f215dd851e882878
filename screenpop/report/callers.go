package report

// The distinct callers do not add up by hour or by day: a number that
// called on two days is one caller. A store gives either the numbers
// themselves (the raw rows, Fold.Caller) or the IDs the roll-ups keep
// them by (Fold.RollupDay), and the fold makes them distinct over the
// whole range in bitmaps: a number is given an ID of its own on first
// sight.

// callerSets are the numbers that called, and those that called as new
// callers: over all the sources, and by source.
type callerSets struct {
	every, fresh numberSet
	sources      map[string]*[2]numberSet // every, fresh
	// ids numbers the numbers given as text.
	ids map[string]int32
}

// addIDs adds numbers (IDs) that called from source, and those of them
// that called as new callers.
func (c *callerSets) addIDs(source string, numbers, fresh []int32) {
	src := c.source(source)
	for _, id := range numbers {
		c.every.add(id)
		src[0].add(id)
	}
	for _, id := range fresh {
		c.fresh.add(id)
		src[1].add(id)
	}
}

// addNumber adds a number that called from source, new or not.
func (c *callerSets) addNumber(source, number string, isNew bool) {
	if c.ids == nil {
		c.ids = map[string]int32{}
	}
	id, ok := c.ids[number]
	if !ok {
		id = int32(len(c.ids))
		c.ids[number] = id
	}
	src := c.source(source)
	c.every.add(id)
	src[0].add(id)
	if isNew {
		c.fresh.add(id)
		src[1].add(id)
	}
}

// source is source's sets, made on first use.
func (c *callerSets) source(name string) *[2]numberSet {
	if c.sources == nil {
		c.sources = map[string]*[2]numberSet{}
	}
	src := c.sources[name]
	if src == nil {
		src = &[2]numberSet{}
		c.sources[name] = src
	}
	return src
}

// all counts the callers of every source.
func (c *callerSets) all() Callers {
	return Callers{Distinct: c.every.n, New: c.fresh.n}
}

// bySource counts each source's callers, for the sources with any.
func (c *callerSets) bySource() map[string]Callers {
	out := make(map[string]Callers, len(c.sources))
	for source, s := range c.sources {
		if s[0].n > 0 {
			out[source] = Callers{Distinct: s[0].n, New: s[1].n}
		}
	}
	return out
}

// numberSet is a set of numbers' IDs (small, dense integers): a bitmap.
type numberSet struct {
	words []uint64
	n     int // members
}

func (s *numberSet) add(id int32) {
	w := int(id) >> 6
	if w >= len(s.words) {
		s.words = append(s.words, make([]uint64, w+1-len(s.words)+len(s.words)/2)...)
	}
	bit := uint64(1) << (uint(id) & 63)
	if s.words[w]&bit == 0 {
		s.words[w] |= bit
		s.n++
	}
}
