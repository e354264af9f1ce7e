package options

import (
	"strings"

	"github.com/lmtriad/lmtriad/licfile"
)

// FeatureRefOf returns the FeatureRef of a license line: its name, its
// VERSION, and each of its attributes with a value under its upper-case
// keyword (SN, VENDOR_STRING, HOSTID, ASSET_INFO...).
func FeatureRefOf(f *licfile.Feature) FeatureRef {
	attrs := map[string]string{"VERSION": f.Version}
	for _, a := range f.Attrs {
		if !a.Flag {
			attrs[strings.ToUpper(a.Key)] = a.Value
		}
	}
	for k, v := range map[string]string{"SN": f.SN, "VENDOR_STRING": f.VendorString, "HOSTID": f.HostID} {
		if _, ok := attrs[k]; !ok && v != "" {
			attrs[k] = v
		}
	}
	return FeatureRef{Name: f.Name, Attrs: attrs}
}
