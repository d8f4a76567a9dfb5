package devicerules

import "encoding/binary"

// Instruction is one eBPF instruction (struct bpf_insn).
type Instruction struct {
	Op  uint8
	Dst uint8 // register number, 0-10
	Src uint8
	Off int16
	Imm int32
}

// The opcodes the device program uses.
const (
	opLoadWord  = 0x61 // BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
	opAndImm    = 0x57 // BPF_ALU64 | BPF_AND | BPF_K: dst &= imm
	opRshImm    = 0x77 // BPF_ALU64 | BPF_RSH | BPF_K: dst >>= imm
	opMovImm    = 0xb7 // BPF_ALU64 | BPF_MOV | BPF_K: dst = imm
	opMovReg    = 0xbf // BPF_ALU64 | BPF_MOV | BPF_X: dst = src
	opJumpEqImm = 0x15 // BPF_JMP | BPF_JEQ | BPF_K: if dst == imm, skip off
	opJumpNeImm = 0x55 // BPF_JMP | BPF_JNE | BPF_K: if dst != imm, skip off
	opExit      = 0x95 // BPF_JMP | BPF_EXIT: return r0
)

// Registers the program keeps the device's details in. r1 holds the
// context (struct bpf_cgroup_dev_ctx: u32 access_type, major, minor)
// until they are read, then serves as scratch.
const (
	regVerdict = 0
	regScratch = 1
	regType    = 2
	regAccess  = 3
	regMajor   = 4
	regMinor   = 5
)

// Program compiles m into a BPF_PROG_TYPE_CGROUP_DEVICE program that
// returns 1 where m.Allows and 0 elsewhere. Each exception is a block
// that jumps to the next one on the first field that does not match.
func Program(m *Model) []Instruction {
	p := []Instruction{
		{Op: opLoadWord, Dst: regType, Src: 1, Off: 0},
		{Op: opAndImm, Dst: regType, Imm: 0xffff},
		{Op: opLoadWord, Dst: regAccess, Src: 1, Off: 0},
		{Op: opRshImm, Dst: regAccess, Imm: 16},
		{Op: opLoadWord, Dst: regMajor, Src: 1, Off: 4},
		{Op: opLoadWord, Dst: regMinor, Src: 1, Off: 8},
	}
	verdict, fallback := int32(1), int32(0)
	if m.DefaultAllow {
		verdict, fallback = 0, 1
	}
	for _, e := range m.Exceptions {
		var block []Instruction
		// Each check jumps to the end of the block; its offset is filled
		// in once the block's length is known.
		block = append(block, Instruction{Op: opJumpNeImm, Dst: regType, Imm: int32(e.Type)})
		block = append(block, Instruction{Op: opMovReg, Dst: regScratch, Src: regAccess})
		if m.DefaultAllow {
			// Refused if any of the access asked for is denied.
			block = append(block,
				Instruction{Op: opAndImm, Dst: regScratch, Imm: int32(e.Access)},
				Instruction{Op: opJumpEqImm, Dst: regScratch, Imm: 0})
		} else {
			// Allowed only if all of it is granted.
			block = append(block,
				Instruction{Op: opAndImm, Dst: regScratch, Imm: ^int32(e.Access)},
				Instruction{Op: opJumpNeImm, Dst: regScratch, Imm: 0})
		}
		if e.Major != wildcard {
			block = append(block, Instruction{Op: opJumpNeImm, Dst: regMajor, Imm: int32(e.Major)})
		}
		if e.Minor != wildcard {
			block = append(block, Instruction{Op: opJumpNeImm, Dst: regMinor, Imm: int32(e.Minor)})
		}
		block = append(block,
			Instruction{Op: opMovImm, Dst: regVerdict, Imm: verdict},
			Instruction{Op: opExit})
		for i := range block {
			if block[i].Op == opJumpNeImm || block[i].Op == opJumpEqImm {
				block[i].Off = int16(len(block) - i - 1)
			}
		}
		p = append(p, block...)
	}
	return append(p,
		Instruction{Op: opMovImm, Dst: regVerdict, Imm: fallback},
		Instruction{Op: opExit})
}

// Encode lays the program out as the kernel reads it (little-endian
// struct bpf_insn, 8 bytes each).
func Encode(p []Instruction) []byte {
	b := make([]byte, 0, 8*len(p))
	for _, in := range p {
		b = append(b, in.Op, in.Dst&0xf|in.Src<<4)
		b = binary.LittleEndian.AppendUint16(b, uint16(in.Off))
		b = binary.LittleEndian.AppendUint32(b, uint32(in.Imm))
	}
	return b
}
