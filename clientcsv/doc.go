// Package clientcsv reads a dealership's client base export (CSV from
// Excel, 1C or a CRM, in UTF-8 or a Russian legacy encoding) into
// screenpop.ImportRow values: it finds the encoding, the delimiter, the
// header below any title rows and which column is which field, reads
// numbers in any form, dates as Excel writes them and full names, and says
// why each row it cannot use is refused. WriteRejects writes the refused
// rows back in the file's own format, to be corrected and imported again.
//
// Reading is all it does: the store merges the rows into the client base.
// It must never import store, nor any SQL driver.
package clientcsv
