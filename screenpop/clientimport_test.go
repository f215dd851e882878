package screenpop

import "testing"

func TestSplitFullName(t *testing.T) {
	for _, tt := range []struct{ in, last, first, patronymic string }{
		{"Петров Иван Сергеевич", "Петров", "Иван", "Сергеевич"},
		{"  Петров   Иван ", "Петров", "Иван", ""},
		{"Петров", "Петров", "", ""},
		{"Алиев Рашид Керим оглы", "Алиев", "Рашид", "Керим оглы"},
		{"Иванов И.И.", "Иванов", "И.", "И."},
		{`ООО "Ромашка"`, `ООО "Ромашка"`, "", ""},
		{"ИП Сидоров Пётр Петрович", "ИП Сидоров Пётр Петрович", "", ""},
	} {
		t.Run(tt.in, func(t *testing.T) {
			last, first, patronymic := SplitFullName(tt.in)
			if last != tt.last || first != tt.first || patronymic != tt.patronymic {
				t.Errorf("got %q %q %q, want %q %q %q", last, first, patronymic, tt.last, tt.first, tt.patronymic)
			}
		})
	}
}
