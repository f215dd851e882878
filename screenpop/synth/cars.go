package synth

import (
	"fmt"
	"math/rand/v2"
)

// model is a car sold in Russia, with what the data needs to look right:
// its price when new, how long the maker's warranty runs, the years it was
// sold, and the world manufacturer identifier of the plant that built the
// cars sold here.
type model struct {
	make, model         string
	wmi                 string
	firstYear, lastYear int     // lastYear 0: still sold
	price               float64 // roubles, new
	warrantyYears       int
	weight              int // how often the dealership sees one
}

var models = []model{
	{"Lada", "Vesta", "XTA", 2015, 0, 1_450_000, 3, 14},
	{"Lada", "Granta", "XTA", 2011, 0, 900_000, 3, 10},
	{"Lada", "Niva Travel", "XTA", 2020, 0, 1_250_000, 3, 5},
	{"Kia", "Rio", "Z94", 2011, 2023, 1_300_000, 5, 10},
	{"Kia", "Sportage", "XWE", 2010, 2022, 2_600_000, 5, 5},
	{"Hyundai", "Solaris", "Z94", 2011, 2023, 1_250_000, 5, 10},
	{"Hyundai", "Creta", "Z94", 2016, 2023, 1_900_000, 5, 6},
	{"Toyota", "Camry", "XW7", 2012, 2022, 3_200_000, 3, 6},
	{"Toyota", "RAV4", "XW7", 2013, 2022, 3_300_000, 3, 5},
	{"Škoda", "Octavia", "XW8", 2013, 2022, 2_100_000, 2, 6},
	{"Škoda", "Rapid", "XW8", 2014, 2022, 1_500_000, 2, 4},
	{"Volkswagen", "Polo", "XW8", 2011, 2022, 1_400_000, 2, 7},
	{"Volkswagen", "Tiguan", "XW8", 2012, 2022, 2_900_000, 2, 4},
	{"Renault", "Logan", "X7L", 2010, 2022, 950_000, 3, 6},
	{"Renault", "Duster", "X7L", 2012, 2022, 1_500_000, 3, 5},
	{"Haval", "Jolion", "X9X", 2021, 0, 2_200_000, 5, 7},
	{"Haval", "F7", "X9X", 2019, 0, 2_800_000, 5, 4},
	{"Chery", "Tiggo 7 Pro", "LVV", 2020, 0, 2_400_000, 7, 6},
	{"Chery", "Tiggo 4", "LVV", 2019, 0, 1_900_000, 7, 4},
	{"Geely", "Coolray", "Y4K", 2020, 0, 2_300_000, 5, 6},
	{"Geely", "Monjaro", "Y4K", 2023, 0, 4_200_000, 5, 2},
	{"Changan", "CS55 Plus", "LS5", 2022, 0, 2_600_000, 5, 3},
	{"Omoda", "C5", "LVV", 2022, 0, 2_200_000, 7, 3},
}

// modelWeights is the running total of weights, for a weighted pick.
var modelWeights = func() []int {
	w := make([]int, len(models))
	sum := 0
	for i, m := range models {
		sum += m.weight
		w[i] = sum
	}
	return w
}()

func pickModel(r *rand.Rand) model {
	n := r.IntN(modelWeights[len(modelWeights)-1])
	for i, w := range modelWeights {
		if n < w {
			return models[i]
		}
	}
	return models[len(models)-1]
}

// plateLetters are the twelve Cyrillic letters Russian plates use: those
// that look the same in the Latin alphabet.
const plateLetters = "АВЕКМНОРСТУХ"

// plateRegions are Moscow's and the Moscow region's codes, which most of a
// Moscow dealership's clients have, then a few from elsewhere.
var plateRegions = []string{
	"77", "97", "99", "177", "197", "199", "777", "797", "799", "977",
	"50", "90", "150", "190", "750", "790",
	"78", "178", "40", "71", "62", "33", "69",
}

// plate is a registration plate in the real format: a letter, three
// digits, two letters and the region ("А123ВС77").
func plate(r *rand.Rand) string {
	letters := []rune(plateLetters)
	l := func() string { return string(letters[r.IntN(len(letters))]) }
	region := plateRegions[r.IntN(10)]
	if r.IntN(10) < 3 {
		region = plateRegions[r.IntN(len(plateRegions))]
	}
	return fmt.Sprintf("%s%03d%s%s%s", l(), 1+r.IntN(999), l(), l(), region)
}

// vinChars are the characters a VIN may hold: no I, O or Q, which read as
// 1 and 0.
const vinChars = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"

// vinYears codes model years from 2010 (A) in position 10 of a VIN; the
// letters skip I, O, Q, U and Z and the digit 0.
const vinYears = "ABCDEFGHJKLMNPRSTVWXY123456789"

// vinYear is the character of a VIN that gives its model year.
func vinYear(year int) byte {
	i := (year - 2010) % len(vinYears)
	if i < 0 {
		i += len(vinYears)
	}
	return vinYears[i]
}

// vinWeights and vinValues compute the check digit (position 9), as North
// American VINs have it; many Russian-assembled cars carry one too.
var vinWeights = [17]int{8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2}

func vinValue(c byte) int {
	if c >= '0' && c <= '9' {
		return int(c - '0')
	}
	// The transliteration table of ISO 3779: A-H 1-8, J-N 1-5, P 7, R 9,
	// S-Z 2-9.
	return int("12345678-12345-7-923456789"[c-'A'] - '0')
}

// vin is a valid-looking VIN: the plant's WMI, five descriptor characters,
// the check digit, the model year, a plant code and a six-digit serial.
func vin(r *rand.Rand, m model, year int) string {
	b := []byte(m.wmi)
	for range 5 {
		b = append(b, vinChars[r.IntN(len(vinChars))])
	}
	b = append(b, '0', vinYear(year), vinChars[r.IntN(len(vinChars)-10)]) // plant: a letter
	b = fmt.Appendf(b, "%06d", r.IntN(1_000_000))
	sum := 0
	for i, c := range b {
		sum += vinValue(c) * vinWeights[i]
	}
	if d := sum % 11; d == 10 {
		b[8] = 'X'
	} else {
		b[8] = byte('0' + d)
	}
	return string(b)
}
