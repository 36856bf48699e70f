package sls_test

import (
	"fmt"

	aliyun "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"

	"github.com/ferryhq/ferry/internal/emulator/sls"
)

// Point the official SDK at an embedded emulator: its Endpoint plus an
// HTTPClient that reaches it whatever "<project>.<endpoint>" host the SDK
// puts in the URL.
func Example() {
	srv, err := sls.New(sls.Config{AccessKeyID: "id", AccessKeySecret: "secret"})
	if err != nil {
		panic(err)
	}
	if err := srv.Start(); err != nil {
		panic(err)
	}
	defer srv.Close()

	client := aliyun.CreateNormalInterface(srv.Endpoint(), "id", "secret", "")
	client.SetHTTPClient(srv.HTTPClient())

	// The project and logstore spring into being on first use.
	err = client.PutLogs("my-project", "my-logstore", &aliyun.LogGroup{
		Topic: proto.String("demo"),
		Logs: []*aliyun.Log{{
			Time:     proto.Uint32(1700000000),
			Contents: []*aliyun.LogContent{{Key: proto.String("msg"), Value: proto.String("hello")}},
		}},
	})
	if err != nil {
		panic(err)
	}
	for shard := 0; shard < 2; shard++ {
		groups, _ := srv.LogGroups("my-project", "my-logstore", shard)
		for _, g := range groups {
			fmt.Println(shard, g.Topic, g.Logs[0].Contents[0].Value)
		}
	}
	// Output: 0 demo hello
}
