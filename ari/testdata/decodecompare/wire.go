package decodecompare

// wireEvent and wireChannel are package ari's, with the times as strings
// (parsed in conv.go), which every library here can decode.
// wire_easyjson.go is generated from them:
//
//	go run github.com/mailru/easyjson/easyjson@v0.9.2 -all wire.go
//
//easyjson:json
type wireEvent struct {
	Type                string      `json:"type"`
	Timestamp           string      `json:"timestamp"`
	Channel             wireChannel `json:"channel"`
	Caller              wireChannel `json:"caller"`
	Peer                wireChannel `json:"peer"`
	Cause               int         `json:"cause"`
	CauseTxt            string      `json:"cause_txt"`
	Soft                bool        `json:"soft"`
	CallerPresentation  int         `json:"caller_presentation"`
	Dialstatus          string      `json:"dialstatus"`
	Dialstring          string      `json:"dialstring"`
	Bridge              wireBridge  `json:"bridge"`
	Args                []string    `json:"args"`
	Variable            string      `json:"variable"`
	Value               string      `json:"value"`
	Transferee          wireChannel `json:"transferee"`
	TransfererFirstLeg  wireChannel `json:"transferer_first_leg"`
	TransfererSecondLeg wireChannel `json:"transferer_second_leg"`
	TransferTarget      wireChannel `json:"transfer_target"`
	Exten               string      `json:"exten"`
	Context             string      `json:"context"`
	Result              string      `json:"result"`
}

type wireBridge struct {
	ID string `json:"id"`
}

type wireCallerID struct {
	Name   string `json:"name"`
	Number string `json:"number"`
}

type wireDialplan struct {
	Context string `json:"context"`
	Exten   string `json:"exten"`
}

type wireChannel struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	State        string            `json:"state"`
	Caller       wireCallerID      `json:"caller"`
	Dialplan     wireDialplan      `json:"dialplan"`
	Creationtime string            `json:"creationtime"`
	Channelvars  map[string]string `json:"channelvars"`
}
