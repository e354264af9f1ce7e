package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestOptionsValidate(t *testing.T) {
	valid := func() Options {
		o := NewOptions()
		o.LicensePath = "demo.lic"
		return o
	}
	o := valid()
	assert.NoError(t, o.Validate())
	o.Webhook = "https://hooks.example.com/services/T0/tok-secret"
	assert.NoError(t, o.Validate())

	for name, tc := range map[string]struct {
		change func(*Options)
		want   string
	}{
		"no license":        {func(o *Options) { o.LicensePath = "" }, "no license file"},
		"smtp without mail": {func(o *Options) { o.SMTP = "127.0.0.1:25" }, "-smtp needs -mail-from and -mail-to"},
		"cert without key":  {func(o *Options) { o.HTTPCert = "c.pem" }, "-http-cert and -http-key go together"},
		"unsigned list":     {func(o *Options) { o.Unsigned = []string{"a,b"} }, "want a vendor name"},
		"webhook not http":  {func(o *Options) { o.Webhook = "ftp://user:pw-secret@h/tok-secret" }, "-webhook: webhook ftp://h/...: want an http:// or https:// URL"},
	} {
		t.Run(name, func(t *testing.T) {
			o := valid()
			tc.change(&o)
			err := o.Validate()
			if assert.Error(t, err) {
				assert.Contains(t, err.Error(), tc.want)
				assert.NotContains(t, err.Error(), "secret")
			}
		})
	}
}
