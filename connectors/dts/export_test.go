package dts

// DecodePosition exposes decodePosition to the black-box tests.
func DecodePosition(b []byte) error { _, err := decodePosition(b); return err }

// DecodeRecordJSON decodes a record value and renders its after image as
// the source would (fuzzing).
func DecodeRecordJSON(b []byte) ([]byte, error) {
	var r record
	if err := decodeRecord(newReader(), b, &r); err != nil {
		return nil, err
	}
	fields, _ := r.Fields.([]field)
	img, ok := r.AfterImages.([]any)
	if !ok {
		return nil, nil
	}
	return appendImage(nil, fields, img)
}
