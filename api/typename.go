package api

import "reflect"

func typeName(o Object) reflect.Type { return reflect.TypeOf(o) }
